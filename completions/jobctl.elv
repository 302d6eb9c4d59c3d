
use builtin;
use str;

set edit:completion:arg-completer[jobctl] = {|@words|
    fn spaces {|n|
        builtin:repeat $n ' ' | str:join ''
    }
    fn cand {|text desc|
        edit:complex-candidate $text &display=$text' '(spaces (- 14 (wcswidth $text)))$desc
    }
    var command = 'jobctl'
    for word $words[1..-1] {
        if (str:has-prefix $word '-') {
            break
        }
        set command = $command';'$word
    }
    var completions = [
        &'jobctl'= {
            cand --config 'Config file [default: ~/.config/jobctl/config.toml]'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand api 'Run the REST API (job state, logs, auth)'
            cand worker 'Run a worker: claim jobs and run them with live logs'
            cand web 'Run the browser UI'
            cand up 'Run api, worker and web UI in one process, for one machine'
            cand submit 'Submit a job; prints its id'
            cand list 'List jobs, newest first'
            cand show 'Show every field of a job'
            cand cancel 'Cancel a pending or running job'
            cand logs 'Print a job''s log, or follow it while it runs'
            cand workers 'List the workers: state, executor, slots, running jobs (admins)'
            cand token 'Create, list and revoke API tokens (works on the database directly)'
            cand admin 'Back up the store, or move it from SQLite to PostgreSQL (works on the database directly)'
            cand completions 'Print shell completions'
            cand __run-job 'Internal: the per-job supervisor a worker starts'
            cand __redact 'Internal: the output filter of a Slurm job''s batch script'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'jobctl;api'= {
            cand --listen 'Address to listen on'
            cand --database 'Database URL: sqlite://PATH or postgres://USER@HOST/DB [default: SQLite in the data dir]'
            cand --data-dir 'Default home of the SQLite file and the logs [default: ~/.local/share/jobctl]'
            cand --logs-dir 'Directory of job logs, the same path as on every worker [default: DATA_DIR/logs]'
            cand --retention-days 'Delete finished jobs and their logs after this many days'
            cand --lease-timeout 'Fail a running job as `worker lost` when its worker has not heartbeated for this long'
            cand --max-connections 'Connections served at once; beyond it the longest-idle one is closed, or the new one gets a 503 [capped by the open-file limit]'
            cand --log-format 'Service log lines: text (journald-friendly) or json (one object a line, for log shippers)'
            cand --config 'Config file [default: ~/.config/jobctl/config.toml]'
            cand --metrics-public 'Serve /metrics without a token (for a Prometheus inside a private network); otherwise it takes an admin token'
            cand --no-metrics 'Record no metrics; /metrics answers 404'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'jobctl;worker'= {
            cand --api-url 'The API''s URL [default: the one `jobctl up` wrote, else http://127.0.0.1:8765]'
            cand --token 'API token [default: config file, else the token `jobctl up` wrote (admin; worker token for `jobctl worker`)]; on a shared machine prefer --token-file: a command line is visible to every local user'
            cand --token-file 'A file holding the API token, readable by its owner only'
            cand --logs-dir 'Directory of job logs: the same path the api reads [default: DATA_DIR/logs]'
            cand --data-dir 'Data dir, for the default logs dir and the token of `jobctl up`'
            cand --slots 'Jobs to run at once (local executor; Slurm: --max-jobs)'
            cand --gpus 'GPU device ids jobs are given, comma-separated (0,1,2,3), `auto` (what `nvidia-smi -L` lists) or `none`; each job sees only its own in CUDA_VISIBLE_DEVICES [default: none]'
            cand --cpus 'CPUs jobs may ask for in all [default: the cores this process may use, or --slots if more]'
            cand --name 'This worker''s name in job records [default: the host name]'
            cand --kill-grace 'Time between SIGTERM and SIGKILL when a job is stopped'
            cand --drain-timeout 'On SIGTERM/SIGINT, how long running jobs may finish before they are stopped'
            cand --startup-timeout 'How long to wait for the API at start before exiting with an error'
            cand --redact 'What is redacted from jobs'' output before it reaches the log: declared secrets and well-known token shapes (all), declared secrets only (secrets), or nothing (off)'
            cand --executor 'Where jobs run: here, or as Slurm batch jobs (see docs/slurm.md)'
            cand --partition 'Slurm: the partition jobs are submitted to [default: the cluster''s]'
            cand --sbatch-arg 'Slurm: an extra sbatch option for every job, e.g. --sbatch-arg=--account=lab (repeatable)'
            cand --max-jobs 'Slurm: how many jobs this worker has in Slurm at once, pending or running there'
            cand --slurm-poll-interval 'Slurm: how often squeue is asked about this worker''s jobs'
            cand --metrics-listen 'Serve this worker''s Prometheus metrics at http://ADDR/metrics (running jobs, log bytes, report retries) and its health at http://ADDR/healthz (503 with the reason while a fault stops it claiming)'
            cand --log-format 'Service log lines: text (journald-friendly) or json (one object a line, for log shippers)'
            cand --redactor 'Slurm: the jobctl binary batch scripts pipe job output through to redact it, as the compute nodes see it (a shared path when this one is not on them) [default: this binary]'
            cand --config 'Config file [default: ~/.config/jobctl/config.toml]'
            cand --run-as-owner 'Run each job as the local account named like its owner (uid, gid, groups, HOME), as Slurm does; the worker must run as root'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'jobctl;web'= {
            cand --listen 'Address to listen on'
            cand --api-url 'The API''s URL, as this server reaches it [default: what `jobctl up` recorded, else http://127.0.0.1:8765]'
            cand --data-dir 'Data dir, where `jobctl up` records the API''s URL [default: ~/.local/share/jobctl]'
            cand --log-format 'Service log lines: text (journald-friendly) or json (one object a line, for log shippers)'
            cand --config 'Config file [default: ~/.config/jobctl/config.toml]'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'jobctl;up'= {
            cand --data-dir 'Where the SQLite database, the logs and the tokens live [default: ~/.local/share/jobctl]'
            cand --listen 'The API''s address'
            cand --web-listen 'The web UI''s address'
            cand --slots 'Jobs to run at once'
            cand --log-format 'Service log lines: text (journald-friendly) or json (one object a line, for log shippers)'
            cand --config 'Config file [default: ~/.config/jobctl/config.toml]'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'jobctl;submit'= {
            cand --name 'A name to recognise the job by'
            cand --timeout 'Stop the job after this long, e.g. 90s, 30m, 2h'
            cand --gpus 'GPUs the job needs; it sees only those in CUDA_VISIBLE_DEVICES [default: 0]'
            cand --cpus 'CPUs the job needs [default: 1]'
            cand -e 'Set a variable for the job (K=V), or pass this shell''s value (K); repeatable'
            cand --env 'Set a variable for the job (K=V), or pass this shell''s value (K); repeatable'
            cand --secret 'Pass the secret NAME from this shell''s environment variable NAME: set in the job''s environment, never shown, redacted from its output; repeatable'
            cand --cwd 'Working directory on the worker [default: the current directory]'
            cand --interval 'Poll interval when following'
            cand --api-url 'The API''s URL [default: the one `jobctl up` wrote, else http://127.0.0.1:8765]'
            cand --token 'API token [default: config file, else the token `jobctl up` wrote (admin; worker token for `jobctl worker`)]; on a shared machine prefer --token-file: a command line is visible to every local user'
            cand --token-file 'A file holding the API token, readable by its owner only'
            cand --config 'Config file [default: ~/.config/jobctl/config.toml]'
            cand -f 'Follow the job''s output until it ends: the log goes to stdout and the job id to stderr (Ctrl-C stops following, not the job)'
            cand --follow 'Follow the job''s output until it ends: the log goes to stdout and the job id to stderr (Ctrl-C stops following, not the job)'
            cand --json 'Print the whole job as JSON instead of its id'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'jobctl;list'= {
            cand --status 'Only jobs in these statuses (comma-separated or repeated)'
            cand -q 'Only jobs whose name or command contains TEXT (case-insensitive)'
            cand --search 'Only jobs whose name or command contains TEXT (case-insensitive)'
            cand --owner 'Only this user''s jobs (admins)'
            cand --limit 'At most this many jobs, newest first'
            cand --cursor 'Continue after an earlier listing: the cursor its hint printed'
            cand --api-url 'The API''s URL [default: the one `jobctl up` wrote, else http://127.0.0.1:8765]'
            cand --token 'API token [default: config file, else the token `jobctl up` wrote (admin; worker token for `jobctl worker`)]; on a shared machine prefer --token-file: a command line is visible to every local user'
            cand --token-file 'A file holding the API token, readable by its owner only'
            cand --config 'Config file [default: ~/.config/jobctl/config.toml]'
            cand --all 'Every user''s jobs, not just your own (needs an admin token)'
            cand --all-pages 'Every matching job, however many (fetched a page at a time)'
            cand --json 'Print JSON (every field, and `next_cursor`)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'jobctl;show'= {
            cand --api-url 'The API''s URL [default: the one `jobctl up` wrote, else http://127.0.0.1:8765]'
            cand --token 'API token [default: config file, else the token `jobctl up` wrote (admin; worker token for `jobctl worker`)]; on a shared machine prefer --token-file: a command line is visible to every local user'
            cand --token-file 'A file holding the API token, readable by its owner only'
            cand --config 'Config file [default: ~/.config/jobctl/config.toml]'
            cand --json 'Print JSON'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'jobctl;cancel'= {
            cand --api-url 'The API''s URL [default: the one `jobctl up` wrote, else http://127.0.0.1:8765]'
            cand --token 'API token [default: config file, else the token `jobctl up` wrote (admin; worker token for `jobctl worker`)]; on a shared machine prefer --token-file: a command line is visible to every local user'
            cand --token-file 'A file holding the API token, readable by its owner only'
            cand --config 'Config file [default: ~/.config/jobctl/config.toml]'
            cand --json 'Print the job as JSON'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'jobctl;logs'= {
            cand -n 'Start with the last N lines'
            cand --tail 'Start with the last N lines'
            cand --interval 'How often to poll for new output while following'
            cand --api-url 'The API''s URL [default: the one `jobctl up` wrote, else http://127.0.0.1:8765]'
            cand --token 'API token [default: config file, else the token `jobctl up` wrote (admin; worker token for `jobctl worker`)]; on a shared machine prefer --token-file: a command line is visible to every local user'
            cand --token-file 'A file holding the API token, readable by its owner only'
            cand --config 'Config file [default: ~/.config/jobctl/config.toml]'
            cand -f 'Keep printing new output until the job ends (Ctrl-C stops following, not the job)'
            cand --follow 'Keep printing new output until the job ends (Ctrl-C stops following, not the job)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'jobctl;workers'= {
            cand --api-url 'The API''s URL [default: the one `jobctl up` wrote, else http://127.0.0.1:8765]'
            cand --token 'API token [default: config file, else the token `jobctl up` wrote (admin; worker token for `jobctl worker`)]; on a shared machine prefer --token-file: a command line is visible to every local user'
            cand --token-file 'A file holding the API token, readable by its owner only'
            cand --config 'Config file [default: ~/.config/jobctl/config.toml]'
            cand --json 'Print JSON (every field, with the ids of the running jobs)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'jobctl;token'= {
            cand --database 'Database URL: sqlite://PATH or postgres://USER@HOST/DB [default: SQLite in the data dir]'
            cand --data-dir 'Default home of the SQLite file and the logs [default: ~/.local/share/jobctl]'
            cand --config 'Config file [default: ~/.config/jobctl/config.toml]'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
            cand create 'Create a token and print it (only once; it cannot be shown again)'
            cand list 'List tokens: names, roles, creation times (never secrets)'
            cand revoke 'Revoke a token: requests with it fail within a second'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'jobctl;token;create'= {
            cand --name 'Who holds it: the owner name of the jobs it submits'
            cand --role 'user: own jobs only; admin: all jobs; worker: runs jobs'
            cand --database 'Database URL: sqlite://PATH or postgres://USER@HOST/DB [default: SQLite in the data dir]'
            cand --data-dir 'Default home of the SQLite file and the logs [default: ~/.local/share/jobctl]'
            cand --config 'Config file [default: ~/.config/jobctl/config.toml]'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'jobctl;token;list'= {
            cand --database 'Database URL: sqlite://PATH or postgres://USER@HOST/DB [default: SQLite in the data dir]'
            cand --data-dir 'Default home of the SQLite file and the logs [default: ~/.local/share/jobctl]'
            cand --config 'Config file [default: ~/.config/jobctl/config.toml]'
            cand --json 'Print JSON'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'jobctl;token;revoke'= {
            cand --database 'Database URL: sqlite://PATH or postgres://USER@HOST/DB [default: SQLite in the data dir]'
            cand --data-dir 'Default home of the SQLite file and the logs [default: ~/.local/share/jobctl]'
            cand --config 'Config file [default: ~/.config/jobctl/config.toml]'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'jobctl;token;help'= {
            cand create 'Create a token and print it (only once; it cannot be shown again)'
            cand list 'List tokens: names, roles, creation times (never secrets)'
            cand revoke 'Revoke a token: requests with it fail within a second'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'jobctl;token;help;create'= {
        }
        &'jobctl;token;help;list'= {
        }
        &'jobctl;token;help;revoke'= {
        }
        &'jobctl;token;help;help'= {
        }
        &'jobctl;admin'= {
            cand --database 'Database URL: sqlite://PATH or postgres://USER@HOST/DB [default: SQLite in the data dir]'
            cand --data-dir 'Default home of the SQLite file and the logs [default: ~/.local/share/jobctl]'
            cand --config 'Config file [default: ~/.config/jobctl/config.toml]'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
            cand backup 'Copy the SQLite database to FILE while the api runs (VACUUM INTO; never overwrites)'
            cand migrate 'Copy every job and token from the SQLite store into an empty PostgreSQL database'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'jobctl;admin;backup'= {
            cand --database 'Database URL: sqlite://PATH or postgres://USER@HOST/DB [default: SQLite in the data dir]'
            cand --data-dir 'Default home of the SQLite file and the logs [default: ~/.local/share/jobctl]'
            cand --config 'Config file [default: ~/.config/jobctl/config.toml]'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'jobctl;admin;migrate'= {
            cand --to 'The PostgreSQL database to fill: postgres://USER@HOST/DB'
            cand --database 'Database URL: sqlite://PATH or postgres://USER@HOST/DB [default: SQLite in the data dir]'
            cand --data-dir 'Default home of the SQLite file and the logs [default: ~/.local/share/jobctl]'
            cand --config 'Config file [default: ~/.config/jobctl/config.toml]'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'jobctl;admin;help'= {
            cand backup 'Copy the SQLite database to FILE while the api runs (VACUUM INTO; never overwrites)'
            cand migrate 'Copy every job and token from the SQLite store into an empty PostgreSQL database'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'jobctl;admin;help;backup'= {
        }
        &'jobctl;admin;help;migrate'= {
        }
        &'jobctl;admin;help;help'= {
        }
        &'jobctl;completions'= {
            cand --config 'Config file [default: ~/.config/jobctl/config.toml]'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'jobctl;__run-job'= {
            cand --control-fd 'The supervisor''s end of the worker''s control socket'
            cand --cwd 'The job''s working directory, entered by the supervisor'
            cand --job-id 'The job''s id, for the supervisor''s process name'
            cand --lease-ms 'Stop the job when the worker has not renewed its lease for this long'
            cand --kill-grace-ms 'Between SIGTERM and SIGKILL when the lease runs out'
            cand --redact-secret 'Redact the value of this environment variable (a job secret) from the job''s output; repeatable'
            cand --run-as 'Run the job as this local account (uid, gid, supplementary groups, HOME, USER, LOGNAME); the supervisor must run as root'
            cand --config 'Config file [default: ~/.config/jobctl/config.toml]'
            cand --redact-shapes 'Redact the well-known token shapes from the job''s output'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'jobctl;__redact'= {
            cand --secret 'Redact the value of this environment variable (a job secret); repeatable'
            cand --config 'Config file [default: ~/.config/jobctl/config.toml]'
            cand --shapes 'Redact the well-known token shapes'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'jobctl;help'= {
            cand api 'Run the REST API (job state, logs, auth)'
            cand worker 'Run a worker: claim jobs and run them with live logs'
            cand web 'Run the browser UI'
            cand up 'Run api, worker and web UI in one process, for one machine'
            cand submit 'Submit a job; prints its id'
            cand list 'List jobs, newest first'
            cand show 'Show every field of a job'
            cand cancel 'Cancel a pending or running job'
            cand logs 'Print a job''s log, or follow it while it runs'
            cand workers 'List the workers: state, executor, slots, running jobs (admins)'
            cand token 'Create, list and revoke API tokens (works on the database directly)'
            cand admin 'Back up the store, or move it from SQLite to PostgreSQL (works on the database directly)'
            cand completions 'Print shell completions'
            cand __run-job 'Internal: the per-job supervisor a worker starts'
            cand __redact 'Internal: the output filter of a Slurm job''s batch script'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'jobctl;help;api'= {
        }
        &'jobctl;help;worker'= {
        }
        &'jobctl;help;web'= {
        }
        &'jobctl;help;up'= {
        }
        &'jobctl;help;submit'= {
        }
        &'jobctl;help;list'= {
        }
        &'jobctl;help;show'= {
        }
        &'jobctl;help;cancel'= {
        }
        &'jobctl;help;logs'= {
        }
        &'jobctl;help;workers'= {
        }
        &'jobctl;help;token'= {
            cand create 'Create a token and print it (only once; it cannot be shown again)'
            cand list 'List tokens: names, roles, creation times (never secrets)'
            cand revoke 'Revoke a token: requests with it fail within a second'
        }
        &'jobctl;help;token;create'= {
        }
        &'jobctl;help;token;list'= {
        }
        &'jobctl;help;token;revoke'= {
        }
        &'jobctl;help;admin'= {
            cand backup 'Copy the SQLite database to FILE while the api runs (VACUUM INTO; never overwrites)'
            cand migrate 'Copy every job and token from the SQLite store into an empty PostgreSQL database'
        }
        &'jobctl;help;admin;backup'= {
        }
        &'jobctl;help;admin;migrate'= {
        }
        &'jobctl;help;completions'= {
        }
        &'jobctl;help;__run-job'= {
        }
        &'jobctl;help;__redact'= {
        }
        &'jobctl;help;help'= {
        }
    ]
    $completions[$command]
}
