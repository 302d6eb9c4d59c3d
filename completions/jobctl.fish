# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_jobctl_global_optspecs
    string join \n config= h/help V/version
end

function __fish_jobctl_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_jobctl_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_jobctl_using_subcommand
    set -l cmd (__fish_jobctl_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c jobctl -n "__fish_jobctl_needs_command" -l config -d 'Config file [default: ~/.config/jobctl/config.toml]' -r -F
complete -c jobctl -n "__fish_jobctl_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c jobctl -n "__fish_jobctl_needs_command" -s V -l version -d 'Print version'
complete -c jobctl -n "__fish_jobctl_needs_command" -f -a "api" -d 'Run the REST API (job state, logs, auth)'
complete -c jobctl -n "__fish_jobctl_needs_command" -f -a "worker" -d 'Run a worker: claim jobs and run them with live logs'
complete -c jobctl -n "__fish_jobctl_needs_command" -f -a "web" -d 'Run the browser UI'
complete -c jobctl -n "__fish_jobctl_needs_command" -f -a "up" -d 'Run api, worker and web UI in one process, for one machine'
complete -c jobctl -n "__fish_jobctl_needs_command" -f -a "submit" -d 'Submit a job; prints its id'
complete -c jobctl -n "__fish_jobctl_needs_command" -f -a "list" -d 'List jobs, newest first'
complete -c jobctl -n "__fish_jobctl_needs_command" -f -a "show" -d 'Show every field of a job'
complete -c jobctl -n "__fish_jobctl_needs_command" -f -a "cancel" -d 'Cancel a pending or running job'
complete -c jobctl -n "__fish_jobctl_needs_command" -f -a "logs" -d 'Print a job\'s log, or follow it while it runs'
complete -c jobctl -n "__fish_jobctl_needs_command" -f -a "workers" -d 'List the workers: state, executor, slots, running jobs (admins)'
complete -c jobctl -n "__fish_jobctl_needs_command" -f -a "token" -d 'Create, list and revoke API tokens (works on the database directly)'
complete -c jobctl -n "__fish_jobctl_needs_command" -f -a "admin" -d 'Back up the store, or move it from SQLite to PostgreSQL (works on the database directly)'
complete -c jobctl -n "__fish_jobctl_needs_command" -f -a "completions" -d 'Print shell completions'
complete -c jobctl -n "__fish_jobctl_needs_command" -f -a "__run-job" -d 'Internal: the per-job supervisor a worker starts'
complete -c jobctl -n "__fish_jobctl_needs_command" -f -a "__redact" -d 'Internal: the output filter of a Slurm job\'s batch script'
complete -c jobctl -n "__fish_jobctl_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c jobctl -n "__fish_jobctl_using_subcommand api" -l listen -d 'Address to listen on' -r
complete -c jobctl -n "__fish_jobctl_using_subcommand api" -l database -d 'Database URL: sqlite://PATH or postgres://USER@HOST/DB [default: SQLite in the data dir]' -r
complete -c jobctl -n "__fish_jobctl_using_subcommand api" -l data-dir -d 'Default home of the SQLite file and the logs [default: ~/.local/share/jobctl]' -r -F
complete -c jobctl -n "__fish_jobctl_using_subcommand api" -l logs-dir -d 'Directory of job logs, the same path as on every worker [default: DATA_DIR/logs]' -r -F
complete -c jobctl -n "__fish_jobctl_using_subcommand api" -l retention-days -d 'Delete finished jobs and their logs after this many days' -r
complete -c jobctl -n "__fish_jobctl_using_subcommand api" -l lease-timeout -d 'Fail a running job as `worker lost` when its worker has not heartbeated for this long' -r
complete -c jobctl -n "__fish_jobctl_using_subcommand api" -l max-connections -d 'Connections served at once; beyond it the longest-idle one is closed, or the new one gets a 503 [capped by the open-file limit]' -r
complete -c jobctl -n "__fish_jobctl_using_subcommand api" -l log-format -d 'Service log lines: text (journald-friendly) or json (one object a line, for log shippers)' -r -f -a "text\t'Human-readable lines (no timestamp under systemd: journald adds one)'
json\t'One JSON object per line'"
complete -c jobctl -n "__fish_jobctl_using_subcommand api" -l config -d 'Config file [default: ~/.config/jobctl/config.toml]' -r -F
complete -c jobctl -n "__fish_jobctl_using_subcommand api" -l metrics-public -d 'Serve /metrics without a token (for a Prometheus inside a private network); otherwise it takes an admin token'
complete -c jobctl -n "__fish_jobctl_using_subcommand api" -l no-metrics -d 'Record no metrics; /metrics answers 404'
complete -c jobctl -n "__fish_jobctl_using_subcommand api" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c jobctl -n "__fish_jobctl_using_subcommand api" -s V -l version -d 'Print version'
complete -c jobctl -n "__fish_jobctl_using_subcommand worker" -l api-url -d 'The API\'s URL [default: the one `jobctl up` wrote, else http://127.0.0.1:8765]' -r
complete -c jobctl -n "__fish_jobctl_using_subcommand worker" -l token -d 'API token [default: config file, else the token `jobctl up` wrote (admin; worker token for `jobctl worker`)]; on a shared machine prefer --token-file: a command line is visible to every local user' -r
complete -c jobctl -n "__fish_jobctl_using_subcommand worker" -l token-file -d 'A file holding the API token, readable by its owner only' -r -F
complete -c jobctl -n "__fish_jobctl_using_subcommand worker" -l logs-dir -d 'Directory of job logs: the same path the api reads [default: DATA_DIR/logs]' -r -F
complete -c jobctl -n "__fish_jobctl_using_subcommand worker" -l data-dir -d 'Data dir, for the default logs dir and the token of `jobctl up`' -r -F
complete -c jobctl -n "__fish_jobctl_using_subcommand worker" -l slots -d 'Jobs to run at once (local executor; Slurm: --max-jobs)' -r
complete -c jobctl -n "__fish_jobctl_using_subcommand worker" -l gpus -d 'GPU device ids jobs are given, comma-separated (0,1,2,3), `auto` (what `nvidia-smi -L` lists) or `none`; each job sees only its own in CUDA_VISIBLE_DEVICES [default: none]' -r
complete -c jobctl -n "__fish_jobctl_using_subcommand worker" -l cpus -d 'CPUs jobs may ask for in all [default: the cores this process may use, or --slots if more]' -r
complete -c jobctl -n "__fish_jobctl_using_subcommand worker" -l name -d 'This worker\'s name in job records [default: the host name]' -r
complete -c jobctl -n "__fish_jobctl_using_subcommand worker" -l kill-grace -d 'Time between SIGTERM and SIGKILL when a job is stopped' -r
complete -c jobctl -n "__fish_jobctl_using_subcommand worker" -l drain-timeout -d 'On SIGTERM/SIGINT, how long running jobs may finish before they are stopped' -r
complete -c jobctl -n "__fish_jobctl_using_subcommand worker" -l startup-timeout -d 'How long to wait for the API at start before exiting with an error' -r
complete -c jobctl -n "__fish_jobctl_using_subcommand worker" -l redact -d 'What is redacted from jobs\' output before it reaches the log: declared secrets and well-known token shapes (all), declared secrets only (secrets), or nothing (off)' -r -f -a "all\t'Declared secrets and the well-known token shapes'
secrets\t'Declared secrets only'
off\t'Nothing: job output goes straight to the log file, secrets included'"
complete -c jobctl -n "__fish_jobctl_using_subcommand worker" -l executor -d 'Where jobs run: here, or as Slurm batch jobs (see docs/slurm.md)' -r -f -a "local\t'Child processes of the worker, on this machine'
slurm\t'Slurm batch jobs, submitted with sbatch from this (login) host'"
complete -c jobctl -n "__fish_jobctl_using_subcommand worker" -l partition -d 'Slurm: the partition jobs are submitted to [default: the cluster\'s]' -r
complete -c jobctl -n "__fish_jobctl_using_subcommand worker" -l sbatch-arg -d 'Slurm: an extra sbatch option for every job, e.g. --sbatch-arg=--account=lab (repeatable)' -r
complete -c jobctl -n "__fish_jobctl_using_subcommand worker" -l max-jobs -d 'Slurm: how many jobs this worker has in Slurm at once, pending or running there' -r
complete -c jobctl -n "__fish_jobctl_using_subcommand worker" -l slurm-poll-interval -d 'Slurm: how often squeue is asked about this worker\'s jobs' -r
complete -c jobctl -n "__fish_jobctl_using_subcommand worker" -l metrics-listen -d 'Serve this worker\'s Prometheus metrics at http://ADDR/metrics (running jobs, log bytes, report retries) and its health at http://ADDR/healthz (503 with the reason while a fault stops it claiming)' -r
complete -c jobctl -n "__fish_jobctl_using_subcommand worker" -l log-format -d 'Service log lines: text (journald-friendly) or json (one object a line, for log shippers)' -r -f -a "text\t'Human-readable lines (no timestamp under systemd: journald adds one)'
json\t'One JSON object per line'"
complete -c jobctl -n "__fish_jobctl_using_subcommand worker" -l redactor -d 'Slurm: the jobctl binary batch scripts pipe job output through to redact it, as the compute nodes see it (a shared path when this one is not on them) [default: this binary]' -r -F
complete -c jobctl -n "__fish_jobctl_using_subcommand worker" -l config -d 'Config file [default: ~/.config/jobctl/config.toml]' -r -F
complete -c jobctl -n "__fish_jobctl_using_subcommand worker" -l run-as-owner -d 'Run each job as the local account named like its owner (uid, gid, groups, HOME), as Slurm does; the worker must run as root'
complete -c jobctl -n "__fish_jobctl_using_subcommand worker" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c jobctl -n "__fish_jobctl_using_subcommand worker" -s V -l version -d 'Print version'
complete -c jobctl -n "__fish_jobctl_using_subcommand web" -l listen -d 'Address to listen on' -r
complete -c jobctl -n "__fish_jobctl_using_subcommand web" -l api-url -d 'The API\'s URL, as this server reaches it [default: what `jobctl up` recorded, else http://127.0.0.1:8765]' -r
complete -c jobctl -n "__fish_jobctl_using_subcommand web" -l data-dir -d 'Data dir, where `jobctl up` records the API\'s URL [default: ~/.local/share/jobctl]' -r -F
complete -c jobctl -n "__fish_jobctl_using_subcommand web" -l log-format -d 'Service log lines: text (journald-friendly) or json (one object a line, for log shippers)' -r -f -a "text\t'Human-readable lines (no timestamp under systemd: journald adds one)'
json\t'One JSON object per line'"
complete -c jobctl -n "__fish_jobctl_using_subcommand web" -l config -d 'Config file [default: ~/.config/jobctl/config.toml]' -r -F
complete -c jobctl -n "__fish_jobctl_using_subcommand web" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c jobctl -n "__fish_jobctl_using_subcommand web" -s V -l version -d 'Print version'
complete -c jobctl -n "__fish_jobctl_using_subcommand up" -l data-dir -d 'Where the SQLite database, the logs and the tokens live [default: ~/.local/share/jobctl]' -r -F
complete -c jobctl -n "__fish_jobctl_using_subcommand up" -l listen -d 'The API\'s address' -r
complete -c jobctl -n "__fish_jobctl_using_subcommand up" -l web-listen -d 'The web UI\'s address' -r
complete -c jobctl -n "__fish_jobctl_using_subcommand up" -l slots -d 'Jobs to run at once' -r
complete -c jobctl -n "__fish_jobctl_using_subcommand up" -l log-format -d 'Service log lines: text (journald-friendly) or json (one object a line, for log shippers)' -r -f -a "text\t'Human-readable lines (no timestamp under systemd: journald adds one)'
json\t'One JSON object per line'"
complete -c jobctl -n "__fish_jobctl_using_subcommand up" -l config -d 'Config file [default: ~/.config/jobctl/config.toml]' -r -F
complete -c jobctl -n "__fish_jobctl_using_subcommand up" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c jobctl -n "__fish_jobctl_using_subcommand up" -s V -l version -d 'Print version'
complete -c jobctl -n "__fish_jobctl_using_subcommand submit" -l name -d 'A name to recognise the job by' -r
complete -c jobctl -n "__fish_jobctl_using_subcommand submit" -l timeout -d 'Stop the job after this long, e.g. 90s, 30m, 2h' -r
complete -c jobctl -n "__fish_jobctl_using_subcommand submit" -l gpus -d 'GPUs the job needs; it sees only those in CUDA_VISIBLE_DEVICES [default: 0]' -r
complete -c jobctl -n "__fish_jobctl_using_subcommand submit" -l cpus -d 'CPUs the job needs [default: 1]' -r
complete -c jobctl -n "__fish_jobctl_using_subcommand submit" -s e -l env -d 'Set a variable for the job (K=V), or pass this shell\'s value (K); repeatable' -r
complete -c jobctl -n "__fish_jobctl_using_subcommand submit" -l secret -d 'Pass the secret NAME from this shell\'s environment variable NAME: set in the job\'s environment, never shown, redacted from its output; repeatable' -r
complete -c jobctl -n "__fish_jobctl_using_subcommand submit" -l cwd -d 'Working directory on the worker [default: the current directory]' -r -F
complete -c jobctl -n "__fish_jobctl_using_subcommand submit" -l interval -d 'Poll interval when following' -r
complete -c jobctl -n "__fish_jobctl_using_subcommand submit" -l api-url -d 'The API\'s URL [default: the one `jobctl up` wrote, else http://127.0.0.1:8765]' -r
complete -c jobctl -n "__fish_jobctl_using_subcommand submit" -l token -d 'API token [default: config file, else the token `jobctl up` wrote (admin; worker token for `jobctl worker`)]; on a shared machine prefer --token-file: a command line is visible to every local user' -r
complete -c jobctl -n "__fish_jobctl_using_subcommand submit" -l token-file -d 'A file holding the API token, readable by its owner only' -r -F
complete -c jobctl -n "__fish_jobctl_using_subcommand submit" -l config -d 'Config file [default: ~/.config/jobctl/config.toml]' -r -F
complete -c jobctl -n "__fish_jobctl_using_subcommand submit" -s f -l follow -d 'Follow the job\'s output until it ends: the log goes to stdout and the job id to stderr (Ctrl-C stops following, not the job)'
complete -c jobctl -n "__fish_jobctl_using_subcommand submit" -l json -d 'Print the whole job as JSON instead of its id'
complete -c jobctl -n "__fish_jobctl_using_subcommand submit" -s h -l help -d 'Print help'
complete -c jobctl -n "__fish_jobctl_using_subcommand submit" -s V -l version -d 'Print version'
complete -c jobctl -n "__fish_jobctl_using_subcommand list" -l status -d 'Only jobs in these statuses (comma-separated or repeated)' -r -f -a "pending\t''
running\t''
completed\t''
failed\t''
cancelled\t''"
complete -c jobctl -n "__fish_jobctl_using_subcommand list" -s q -l search -d 'Only jobs whose name or command contains TEXT (case-insensitive)' -r
complete -c jobctl -n "__fish_jobctl_using_subcommand list" -l owner -d 'Only this user\'s jobs (admins)' -r
complete -c jobctl -n "__fish_jobctl_using_subcommand list" -l limit -d 'At most this many jobs, newest first' -r
complete -c jobctl -n "__fish_jobctl_using_subcommand list" -l cursor -d 'Continue after an earlier listing: the cursor its hint printed' -r
complete -c jobctl -n "__fish_jobctl_using_subcommand list" -l api-url -d 'The API\'s URL [default: the one `jobctl up` wrote, else http://127.0.0.1:8765]' -r
complete -c jobctl -n "__fish_jobctl_using_subcommand list" -l token -d 'API token [default: config file, else the token `jobctl up` wrote (admin; worker token for `jobctl worker`)]; on a shared machine prefer --token-file: a command line is visible to every local user' -r
complete -c jobctl -n "__fish_jobctl_using_subcommand list" -l token-file -d 'A file holding the API token, readable by its owner only' -r -F
complete -c jobctl -n "__fish_jobctl_using_subcommand list" -l config -d 'Config file [default: ~/.config/jobctl/config.toml]' -r -F
complete -c jobctl -n "__fish_jobctl_using_subcommand list" -l all -d 'Every user\'s jobs, not just your own (needs an admin token)'
complete -c jobctl -n "__fish_jobctl_using_subcommand list" -l all-pages -d 'Every matching job, however many (fetched a page at a time)'
complete -c jobctl -n "__fish_jobctl_using_subcommand list" -l json -d 'Print JSON (every field, and `next_cursor`)'
complete -c jobctl -n "__fish_jobctl_using_subcommand list" -s h -l help -d 'Print help'
complete -c jobctl -n "__fish_jobctl_using_subcommand list" -s V -l version -d 'Print version'
complete -c jobctl -n "__fish_jobctl_using_subcommand show" -l api-url -d 'The API\'s URL [default: the one `jobctl up` wrote, else http://127.0.0.1:8765]' -r
complete -c jobctl -n "__fish_jobctl_using_subcommand show" -l token -d 'API token [default: config file, else the token `jobctl up` wrote (admin; worker token for `jobctl worker`)]; on a shared machine prefer --token-file: a command line is visible to every local user' -r
complete -c jobctl -n "__fish_jobctl_using_subcommand show" -l token-file -d 'A file holding the API token, readable by its owner only' -r -F
complete -c jobctl -n "__fish_jobctl_using_subcommand show" -l config -d 'Config file [default: ~/.config/jobctl/config.toml]' -r -F
complete -c jobctl -n "__fish_jobctl_using_subcommand show" -l json -d 'Print JSON'
complete -c jobctl -n "__fish_jobctl_using_subcommand show" -s h -l help -d 'Print help'
complete -c jobctl -n "__fish_jobctl_using_subcommand show" -s V -l version -d 'Print version'
complete -c jobctl -n "__fish_jobctl_using_subcommand cancel" -l api-url -d 'The API\'s URL [default: the one `jobctl up` wrote, else http://127.0.0.1:8765]' -r
complete -c jobctl -n "__fish_jobctl_using_subcommand cancel" -l token -d 'API token [default: config file, else the token `jobctl up` wrote (admin; worker token for `jobctl worker`)]; on a shared machine prefer --token-file: a command line is visible to every local user' -r
complete -c jobctl -n "__fish_jobctl_using_subcommand cancel" -l token-file -d 'A file holding the API token, readable by its owner only' -r -F
complete -c jobctl -n "__fish_jobctl_using_subcommand cancel" -l config -d 'Config file [default: ~/.config/jobctl/config.toml]' -r -F
complete -c jobctl -n "__fish_jobctl_using_subcommand cancel" -l json -d 'Print the job as JSON'
complete -c jobctl -n "__fish_jobctl_using_subcommand cancel" -s h -l help -d 'Print help'
complete -c jobctl -n "__fish_jobctl_using_subcommand cancel" -s V -l version -d 'Print version'
complete -c jobctl -n "__fish_jobctl_using_subcommand logs" -s n -l tail -d 'Start with the last N lines' -r
complete -c jobctl -n "__fish_jobctl_using_subcommand logs" -l interval -d 'How often to poll for new output while following' -r
complete -c jobctl -n "__fish_jobctl_using_subcommand logs" -l api-url -d 'The API\'s URL [default: the one `jobctl up` wrote, else http://127.0.0.1:8765]' -r
complete -c jobctl -n "__fish_jobctl_using_subcommand logs" -l token -d 'API token [default: config file, else the token `jobctl up` wrote (admin; worker token for `jobctl worker`)]; on a shared machine prefer --token-file: a command line is visible to every local user' -r
complete -c jobctl -n "__fish_jobctl_using_subcommand logs" -l token-file -d 'A file holding the API token, readable by its owner only' -r -F
complete -c jobctl -n "__fish_jobctl_using_subcommand logs" -l config -d 'Config file [default: ~/.config/jobctl/config.toml]' -r -F
complete -c jobctl -n "__fish_jobctl_using_subcommand logs" -s f -l follow -d 'Keep printing new output until the job ends (Ctrl-C stops following, not the job)'
complete -c jobctl -n "__fish_jobctl_using_subcommand logs" -s h -l help -d 'Print help'
complete -c jobctl -n "__fish_jobctl_using_subcommand logs" -s V -l version -d 'Print version'
complete -c jobctl -n "__fish_jobctl_using_subcommand workers" -l api-url -d 'The API\'s URL [default: the one `jobctl up` wrote, else http://127.0.0.1:8765]' -r
complete -c jobctl -n "__fish_jobctl_using_subcommand workers" -l token -d 'API token [default: config file, else the token `jobctl up` wrote (admin; worker token for `jobctl worker`)]; on a shared machine prefer --token-file: a command line is visible to every local user' -r
complete -c jobctl -n "__fish_jobctl_using_subcommand workers" -l token-file -d 'A file holding the API token, readable by its owner only' -r -F
complete -c jobctl -n "__fish_jobctl_using_subcommand workers" -l config -d 'Config file [default: ~/.config/jobctl/config.toml]' -r -F
complete -c jobctl -n "__fish_jobctl_using_subcommand workers" -l json -d 'Print JSON (every field, with the ids of the running jobs)'
complete -c jobctl -n "__fish_jobctl_using_subcommand workers" -s h -l help -d 'Print help'
complete -c jobctl -n "__fish_jobctl_using_subcommand workers" -s V -l version -d 'Print version'
complete -c jobctl -n "__fish_jobctl_using_subcommand token; and not __fish_seen_subcommand_from create list revoke help" -l database -d 'Database URL: sqlite://PATH or postgres://USER@HOST/DB [default: SQLite in the data dir]' -r
complete -c jobctl -n "__fish_jobctl_using_subcommand token; and not __fish_seen_subcommand_from create list revoke help" -l data-dir -d 'Default home of the SQLite file and the logs [default: ~/.local/share/jobctl]' -r -F
complete -c jobctl -n "__fish_jobctl_using_subcommand token; and not __fish_seen_subcommand_from create list revoke help" -l config -d 'Config file [default: ~/.config/jobctl/config.toml]' -r -F
complete -c jobctl -n "__fish_jobctl_using_subcommand token; and not __fish_seen_subcommand_from create list revoke help" -s h -l help -d 'Print help'
complete -c jobctl -n "__fish_jobctl_using_subcommand token; and not __fish_seen_subcommand_from create list revoke help" -s V -l version -d 'Print version'
complete -c jobctl -n "__fish_jobctl_using_subcommand token; and not __fish_seen_subcommand_from create list revoke help" -f -a "create" -d 'Create a token and print it (only once; it cannot be shown again)'
complete -c jobctl -n "__fish_jobctl_using_subcommand token; and not __fish_seen_subcommand_from create list revoke help" -f -a "list" -d 'List tokens: names, roles, creation times (never secrets)'
complete -c jobctl -n "__fish_jobctl_using_subcommand token; and not __fish_seen_subcommand_from create list revoke help" -f -a "revoke" -d 'Revoke a token: requests with it fail within a second'
complete -c jobctl -n "__fish_jobctl_using_subcommand token; and not __fish_seen_subcommand_from create list revoke help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c jobctl -n "__fish_jobctl_using_subcommand token; and __fish_seen_subcommand_from create" -l name -d 'Who holds it: the owner name of the jobs it submits' -r
complete -c jobctl -n "__fish_jobctl_using_subcommand token; and __fish_seen_subcommand_from create" -l role -d 'user: own jobs only; admin: all jobs; worker: runs jobs' -r -f -a "user\t''
admin\t''
worker\t''"
complete -c jobctl -n "__fish_jobctl_using_subcommand token; and __fish_seen_subcommand_from create" -l database -d 'Database URL: sqlite://PATH or postgres://USER@HOST/DB [default: SQLite in the data dir]' -r
complete -c jobctl -n "__fish_jobctl_using_subcommand token; and __fish_seen_subcommand_from create" -l data-dir -d 'Default home of the SQLite file and the logs [default: ~/.local/share/jobctl]' -r -F
complete -c jobctl -n "__fish_jobctl_using_subcommand token; and __fish_seen_subcommand_from create" -l config -d 'Config file [default: ~/.config/jobctl/config.toml]' -r -F
complete -c jobctl -n "__fish_jobctl_using_subcommand token; and __fish_seen_subcommand_from create" -s h -l help -d 'Print help'
complete -c jobctl -n "__fish_jobctl_using_subcommand token; and __fish_seen_subcommand_from create" -s V -l version -d 'Print version'
complete -c jobctl -n "__fish_jobctl_using_subcommand token; and __fish_seen_subcommand_from list" -l database -d 'Database URL: sqlite://PATH or postgres://USER@HOST/DB [default: SQLite in the data dir]' -r
complete -c jobctl -n "__fish_jobctl_using_subcommand token; and __fish_seen_subcommand_from list" -l data-dir -d 'Default home of the SQLite file and the logs [default: ~/.local/share/jobctl]' -r -F
complete -c jobctl -n "__fish_jobctl_using_subcommand token; and __fish_seen_subcommand_from list" -l config -d 'Config file [default: ~/.config/jobctl/config.toml]' -r -F
complete -c jobctl -n "__fish_jobctl_using_subcommand token; and __fish_seen_subcommand_from list" -l json -d 'Print JSON'
complete -c jobctl -n "__fish_jobctl_using_subcommand token; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c jobctl -n "__fish_jobctl_using_subcommand token; and __fish_seen_subcommand_from list" -s V -l version -d 'Print version'
complete -c jobctl -n "__fish_jobctl_using_subcommand token; and __fish_seen_subcommand_from revoke" -l database -d 'Database URL: sqlite://PATH or postgres://USER@HOST/DB [default: SQLite in the data dir]' -r
complete -c jobctl -n "__fish_jobctl_using_subcommand token; and __fish_seen_subcommand_from revoke" -l data-dir -d 'Default home of the SQLite file and the logs [default: ~/.local/share/jobctl]' -r -F
complete -c jobctl -n "__fish_jobctl_using_subcommand token; and __fish_seen_subcommand_from revoke" -l config -d 'Config file [default: ~/.config/jobctl/config.toml]' -r -F
complete -c jobctl -n "__fish_jobctl_using_subcommand token; and __fish_seen_subcommand_from revoke" -s h -l help -d 'Print help'
complete -c jobctl -n "__fish_jobctl_using_subcommand token; and __fish_seen_subcommand_from revoke" -s V -l version -d 'Print version'
complete -c jobctl -n "__fish_jobctl_using_subcommand token; and __fish_seen_subcommand_from help" -f -a "create" -d 'Create a token and print it (only once; it cannot be shown again)'
complete -c jobctl -n "__fish_jobctl_using_subcommand token; and __fish_seen_subcommand_from help" -f -a "list" -d 'List tokens: names, roles, creation times (never secrets)'
complete -c jobctl -n "__fish_jobctl_using_subcommand token; and __fish_seen_subcommand_from help" -f -a "revoke" -d 'Revoke a token: requests with it fail within a second'
complete -c jobctl -n "__fish_jobctl_using_subcommand token; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c jobctl -n "__fish_jobctl_using_subcommand admin; and not __fish_seen_subcommand_from backup migrate help" -l database -d 'Database URL: sqlite://PATH or postgres://USER@HOST/DB [default: SQLite in the data dir]' -r
complete -c jobctl -n "__fish_jobctl_using_subcommand admin; and not __fish_seen_subcommand_from backup migrate help" -l data-dir -d 'Default home of the SQLite file and the logs [default: ~/.local/share/jobctl]' -r -F
complete -c jobctl -n "__fish_jobctl_using_subcommand admin; and not __fish_seen_subcommand_from backup migrate help" -l config -d 'Config file [default: ~/.config/jobctl/config.toml]' -r -F
complete -c jobctl -n "__fish_jobctl_using_subcommand admin; and not __fish_seen_subcommand_from backup migrate help" -s h -l help -d 'Print help'
complete -c jobctl -n "__fish_jobctl_using_subcommand admin; and not __fish_seen_subcommand_from backup migrate help" -s V -l version -d 'Print version'
complete -c jobctl -n "__fish_jobctl_using_subcommand admin; and not __fish_seen_subcommand_from backup migrate help" -f -a "backup" -d 'Copy the SQLite database to FILE while the api runs (VACUUM INTO; never overwrites)'
complete -c jobctl -n "__fish_jobctl_using_subcommand admin; and not __fish_seen_subcommand_from backup migrate help" -f -a "migrate" -d 'Copy every job and token from the SQLite store into an empty PostgreSQL database'
complete -c jobctl -n "__fish_jobctl_using_subcommand admin; and not __fish_seen_subcommand_from backup migrate help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c jobctl -n "__fish_jobctl_using_subcommand admin; and __fish_seen_subcommand_from backup" -l database -d 'Database URL: sqlite://PATH or postgres://USER@HOST/DB [default: SQLite in the data dir]' -r
complete -c jobctl -n "__fish_jobctl_using_subcommand admin; and __fish_seen_subcommand_from backup" -l data-dir -d 'Default home of the SQLite file and the logs [default: ~/.local/share/jobctl]' -r -F
complete -c jobctl -n "__fish_jobctl_using_subcommand admin; and __fish_seen_subcommand_from backup" -l config -d 'Config file [default: ~/.config/jobctl/config.toml]' -r -F
complete -c jobctl -n "__fish_jobctl_using_subcommand admin; and __fish_seen_subcommand_from backup" -s h -l help -d 'Print help'
complete -c jobctl -n "__fish_jobctl_using_subcommand admin; and __fish_seen_subcommand_from backup" -s V -l version -d 'Print version'
complete -c jobctl -n "__fish_jobctl_using_subcommand admin; and __fish_seen_subcommand_from migrate" -l to -d 'The PostgreSQL database to fill: postgres://USER@HOST/DB' -r
complete -c jobctl -n "__fish_jobctl_using_subcommand admin; and __fish_seen_subcommand_from migrate" -l database -d 'Database URL: sqlite://PATH or postgres://USER@HOST/DB [default: SQLite in the data dir]' -r
complete -c jobctl -n "__fish_jobctl_using_subcommand admin; and __fish_seen_subcommand_from migrate" -l data-dir -d 'Default home of the SQLite file and the logs [default: ~/.local/share/jobctl]' -r -F
complete -c jobctl -n "__fish_jobctl_using_subcommand admin; and __fish_seen_subcommand_from migrate" -l config -d 'Config file [default: ~/.config/jobctl/config.toml]' -r -F
complete -c jobctl -n "__fish_jobctl_using_subcommand admin; and __fish_seen_subcommand_from migrate" -s h -l help -d 'Print help'
complete -c jobctl -n "__fish_jobctl_using_subcommand admin; and __fish_seen_subcommand_from migrate" -s V -l version -d 'Print version'
complete -c jobctl -n "__fish_jobctl_using_subcommand admin; and __fish_seen_subcommand_from help" -f -a "backup" -d 'Copy the SQLite database to FILE while the api runs (VACUUM INTO; never overwrites)'
complete -c jobctl -n "__fish_jobctl_using_subcommand admin; and __fish_seen_subcommand_from help" -f -a "migrate" -d 'Copy every job and token from the SQLite store into an empty PostgreSQL database'
complete -c jobctl -n "__fish_jobctl_using_subcommand admin; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c jobctl -n "__fish_jobctl_using_subcommand completions" -l config -d 'Config file [default: ~/.config/jobctl/config.toml]' -r -F
complete -c jobctl -n "__fish_jobctl_using_subcommand completions" -s h -l help -d 'Print help'
complete -c jobctl -n "__fish_jobctl_using_subcommand completions" -s V -l version -d 'Print version'
complete -c jobctl -n "__fish_jobctl_using_subcommand __run-job" -l control-fd -d 'The supervisor\'s end of the worker\'s control socket' -r
complete -c jobctl -n "__fish_jobctl_using_subcommand __run-job" -l cwd -d 'The job\'s working directory, entered by the supervisor' -r -F
complete -c jobctl -n "__fish_jobctl_using_subcommand __run-job" -l job-id -d 'The job\'s id, for the supervisor\'s process name' -r
complete -c jobctl -n "__fish_jobctl_using_subcommand __run-job" -l lease-ms -d 'Stop the job when the worker has not renewed its lease for this long' -r
complete -c jobctl -n "__fish_jobctl_using_subcommand __run-job" -l kill-grace-ms -d 'Between SIGTERM and SIGKILL when the lease runs out' -r
complete -c jobctl -n "__fish_jobctl_using_subcommand __run-job" -l redact-secret -d 'Redact the value of this environment variable (a job secret) from the job\'s output; repeatable' -r
complete -c jobctl -n "__fish_jobctl_using_subcommand __run-job" -l run-as -d 'Run the job as this local account (uid, gid, supplementary groups, HOME, USER, LOGNAME); the supervisor must run as root' -r
complete -c jobctl -n "__fish_jobctl_using_subcommand __run-job" -l config -d 'Config file [default: ~/.config/jobctl/config.toml]' -r -F
complete -c jobctl -n "__fish_jobctl_using_subcommand __run-job" -l redact-shapes -d 'Redact the well-known token shapes from the job\'s output'
complete -c jobctl -n "__fish_jobctl_using_subcommand __run-job" -s h -l help -d 'Print help'
complete -c jobctl -n "__fish_jobctl_using_subcommand __run-job" -s V -l version -d 'Print version'
complete -c jobctl -n "__fish_jobctl_using_subcommand __redact" -l secret -d 'Redact the value of this environment variable (a job secret); repeatable' -r
complete -c jobctl -n "__fish_jobctl_using_subcommand __redact" -l config -d 'Config file [default: ~/.config/jobctl/config.toml]' -r -F
complete -c jobctl -n "__fish_jobctl_using_subcommand __redact" -l shapes -d 'Redact the well-known token shapes'
complete -c jobctl -n "__fish_jobctl_using_subcommand __redact" -s h -l help -d 'Print help'
complete -c jobctl -n "__fish_jobctl_using_subcommand __redact" -s V -l version -d 'Print version'
complete -c jobctl -n "__fish_jobctl_using_subcommand help; and not __fish_seen_subcommand_from api worker web up submit list show cancel logs workers token admin completions __run-job __redact help" -f -a "api" -d 'Run the REST API (job state, logs, auth)'
complete -c jobctl -n "__fish_jobctl_using_subcommand help; and not __fish_seen_subcommand_from api worker web up submit list show cancel logs workers token admin completions __run-job __redact help" -f -a "worker" -d 'Run a worker: claim jobs and run them with live logs'
complete -c jobctl -n "__fish_jobctl_using_subcommand help; and not __fish_seen_subcommand_from api worker web up submit list show cancel logs workers token admin completions __run-job __redact help" -f -a "web" -d 'Run the browser UI'
complete -c jobctl -n "__fish_jobctl_using_subcommand help; and not __fish_seen_subcommand_from api worker web up submit list show cancel logs workers token admin completions __run-job __redact help" -f -a "up" -d 'Run api, worker and web UI in one process, for one machine'
complete -c jobctl -n "__fish_jobctl_using_subcommand help; and not __fish_seen_subcommand_from api worker web up submit list show cancel logs workers token admin completions __run-job __redact help" -f -a "submit" -d 'Submit a job; prints its id'
complete -c jobctl -n "__fish_jobctl_using_subcommand help; and not __fish_seen_subcommand_from api worker web up submit list show cancel logs workers token admin completions __run-job __redact help" -f -a "list" -d 'List jobs, newest first'
complete -c jobctl -n "__fish_jobctl_using_subcommand help; and not __fish_seen_subcommand_from api worker web up submit list show cancel logs workers token admin completions __run-job __redact help" -f -a "show" -d 'Show every field of a job'
complete -c jobctl -n "__fish_jobctl_using_subcommand help; and not __fish_seen_subcommand_from api worker web up submit list show cancel logs workers token admin completions __run-job __redact help" -f -a "cancel" -d 'Cancel a pending or running job'
complete -c jobctl -n "__fish_jobctl_using_subcommand help; and not __fish_seen_subcommand_from api worker web up submit list show cancel logs workers token admin completions __run-job __redact help" -f -a "logs" -d 'Print a job\'s log, or follow it while it runs'
complete -c jobctl -n "__fish_jobctl_using_subcommand help; and not __fish_seen_subcommand_from api worker web up submit list show cancel logs workers token admin completions __run-job __redact help" -f -a "workers" -d 'List the workers: state, executor, slots, running jobs (admins)'
complete -c jobctl -n "__fish_jobctl_using_subcommand help; and not __fish_seen_subcommand_from api worker web up submit list show cancel logs workers token admin completions __run-job __redact help" -f -a "token" -d 'Create, list and revoke API tokens (works on the database directly)'
complete -c jobctl -n "__fish_jobctl_using_subcommand help; and not __fish_seen_subcommand_from api worker web up submit list show cancel logs workers token admin completions __run-job __redact help" -f -a "admin" -d 'Back up the store, or move it from SQLite to PostgreSQL (works on the database directly)'
complete -c jobctl -n "__fish_jobctl_using_subcommand help; and not __fish_seen_subcommand_from api worker web up submit list show cancel logs workers token admin completions __run-job __redact help" -f -a "completions" -d 'Print shell completions'
complete -c jobctl -n "__fish_jobctl_using_subcommand help; and not __fish_seen_subcommand_from api worker web up submit list show cancel logs workers token admin completions __run-job __redact help" -f -a "__run-job" -d 'Internal: the per-job supervisor a worker starts'
complete -c jobctl -n "__fish_jobctl_using_subcommand help; and not __fish_seen_subcommand_from api worker web up submit list show cancel logs workers token admin completions __run-job __redact help" -f -a "__redact" -d 'Internal: the output filter of a Slurm job\'s batch script'
complete -c jobctl -n "__fish_jobctl_using_subcommand help; and not __fish_seen_subcommand_from api worker web up submit list show cancel logs workers token admin completions __run-job __redact help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c jobctl -n "__fish_jobctl_using_subcommand help; and __fish_seen_subcommand_from token" -f -a "create" -d 'Create a token and print it (only once; it cannot be shown again)'
complete -c jobctl -n "__fish_jobctl_using_subcommand help; and __fish_seen_subcommand_from token" -f -a "list" -d 'List tokens: names, roles, creation times (never secrets)'
complete -c jobctl -n "__fish_jobctl_using_subcommand help; and __fish_seen_subcommand_from token" -f -a "revoke" -d 'Revoke a token: requests with it fail within a second'
complete -c jobctl -n "__fish_jobctl_using_subcommand help; and __fish_seen_subcommand_from admin" -f -a "backup" -d 'Copy the SQLite database to FILE while the api runs (VACUUM INTO; never overwrites)'
complete -c jobctl -n "__fish_jobctl_using_subcommand help; and __fish_seen_subcommand_from admin" -f -a "migrate" -d 'Copy every job and token from the SQLite store into an empty PostgreSQL database'
