
using namespace System.Management.Automation
using namespace System.Management.Automation.Language

Register-ArgumentCompleter -Native -CommandName 'jobctl' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)

    $commandElements = $commandAst.CommandElements
    $command = @(
        'jobctl'
        for ($i = 1; $i -lt $commandElements.Count; $i++) {
            $element = $commandElements[$i]
            if ($element -isnot [StringConstantExpressionAst] -or
                $element.StringConstantType -ne [StringConstantType]::BareWord -or
                $element.Value.StartsWith('-') -or
                $element.Value -eq $wordToComplete) {
                break
        }
        $element.Value
    }) -join ';'

    $completions = @(switch ($command) {
        'jobctl' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file [default: ~/.config/jobctl/config.toml]')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('api', 'api', [CompletionResultType]::ParameterValue, 'Run the REST API (job state, logs, auth)')
            [CompletionResult]::new('worker', 'worker', [CompletionResultType]::ParameterValue, 'Run a worker: claim jobs and run them with live logs')
            [CompletionResult]::new('web', 'web', [CompletionResultType]::ParameterValue, 'Run the browser UI')
            [CompletionResult]::new('up', 'up', [CompletionResultType]::ParameterValue, 'Run api, worker and web UI in one process, for one machine')
            [CompletionResult]::new('submit', 'submit', [CompletionResultType]::ParameterValue, 'Submit a job; prints its id')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List jobs, newest first')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show every field of a job')
            [CompletionResult]::new('cancel', 'cancel', [CompletionResultType]::ParameterValue, 'Cancel a pending or running job')
            [CompletionResult]::new('logs', 'logs', [CompletionResultType]::ParameterValue, 'Print a job''s log, or follow it while it runs')
            [CompletionResult]::new('workers', 'workers', [CompletionResultType]::ParameterValue, 'List the workers: state, executor, slots, running jobs (admins)')
            [CompletionResult]::new('token', 'token', [CompletionResultType]::ParameterValue, 'Create, list and revoke API tokens (works on the database directly)')
            [CompletionResult]::new('admin', 'admin', [CompletionResultType]::ParameterValue, 'Back up the store, or move it from SQLite to PostgreSQL (works on the database directly)')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print shell completions')
            [CompletionResult]::new('__run-job', '__run-job', [CompletionResultType]::ParameterValue, 'Internal: the per-job supervisor a worker starts')
            [CompletionResult]::new('__redact', '__redact', [CompletionResultType]::ParameterValue, 'Internal: the output filter of a Slurm job''s batch script')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'jobctl;api' {
            [CompletionResult]::new('--listen', '--listen', [CompletionResultType]::ParameterName, 'Address to listen on')
            [CompletionResult]::new('--database', '--database', [CompletionResultType]::ParameterName, 'Database URL: sqlite://PATH or postgres://USER@HOST/DB [default: SQLite in the data dir]')
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Default home of the SQLite file and the logs [default: ~/.local/share/jobctl]')
            [CompletionResult]::new('--logs-dir', '--logs-dir', [CompletionResultType]::ParameterName, 'Directory of job logs, the same path as on every worker [default: DATA_DIR/logs]')
            [CompletionResult]::new('--retention-days', '--retention-days', [CompletionResultType]::ParameterName, 'Delete finished jobs and their logs after this many days')
            [CompletionResult]::new('--lease-timeout', '--lease-timeout', [CompletionResultType]::ParameterName, 'Fail a running job as `worker lost` when its worker has not heartbeated for this long')
            [CompletionResult]::new('--max-connections', '--max-connections', [CompletionResultType]::ParameterName, 'Connections served at once; beyond it the longest-idle one is closed, or the new one gets a 503 [capped by the open-file limit]')
            [CompletionResult]::new('--log-format', '--log-format', [CompletionResultType]::ParameterName, 'Service log lines: text (journald-friendly) or json (one object a line, for log shippers)')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file [default: ~/.config/jobctl/config.toml]')
            [CompletionResult]::new('--metrics-public', '--metrics-public', [CompletionResultType]::ParameterName, 'Serve /metrics without a token (for a Prometheus inside a private network); otherwise it takes an admin token')
            [CompletionResult]::new('--no-metrics', '--no-metrics', [CompletionResultType]::ParameterName, 'Record no metrics; /metrics answers 404')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'jobctl;worker' {
            [CompletionResult]::new('--api-url', '--api-url', [CompletionResultType]::ParameterName, 'The API''s URL [default: the one `jobctl up` wrote, else http://127.0.0.1:8765]')
            [CompletionResult]::new('--token', '--token', [CompletionResultType]::ParameterName, 'API token [default: config file, else the token `jobctl up` wrote (admin; worker token for `jobctl worker`)]; on a shared machine prefer --token-file: a command line is visible to every local user')
            [CompletionResult]::new('--token-file', '--token-file', [CompletionResultType]::ParameterName, 'A file holding the API token, readable by its owner only')
            [CompletionResult]::new('--logs-dir', '--logs-dir', [CompletionResultType]::ParameterName, 'Directory of job logs: the same path the api reads [default: DATA_DIR/logs]')
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Data dir, for the default logs dir and the token of `jobctl up`')
            [CompletionResult]::new('--slots', '--slots', [CompletionResultType]::ParameterName, 'Jobs to run at once (local executor; Slurm: --max-jobs)')
            [CompletionResult]::new('--gpus', '--gpus', [CompletionResultType]::ParameterName, 'GPU device ids jobs are given, comma-separated (0,1,2,3), `auto` (what `nvidia-smi -L` lists) or `none`; each job sees only its own in CUDA_VISIBLE_DEVICES [default: none]')
            [CompletionResult]::new('--cpus', '--cpus', [CompletionResultType]::ParameterName, 'CPUs jobs may ask for in all [default: the cores this process may use, or --slots if more]')
            [CompletionResult]::new('--name', '--name', [CompletionResultType]::ParameterName, 'This worker''s name in job records [default: the host name]')
            [CompletionResult]::new('--kill-grace', '--kill-grace', [CompletionResultType]::ParameterName, 'Time between SIGTERM and SIGKILL when a job is stopped')
            [CompletionResult]::new('--drain-timeout', '--drain-timeout', [CompletionResultType]::ParameterName, 'On SIGTERM/SIGINT, how long running jobs may finish before they are stopped')
            [CompletionResult]::new('--startup-timeout', '--startup-timeout', [CompletionResultType]::ParameterName, 'How long to wait for the API at start before exiting with an error')
            [CompletionResult]::new('--redact', '--redact', [CompletionResultType]::ParameterName, 'What is redacted from jobs'' output before it reaches the log: declared secrets and well-known token shapes (all), declared secrets only (secrets), or nothing (off)')
            [CompletionResult]::new('--executor', '--executor', [CompletionResultType]::ParameterName, 'Where jobs run: here, or as Slurm batch jobs (see docs/slurm.md)')
            [CompletionResult]::new('--partition', '--partition', [CompletionResultType]::ParameterName, 'Slurm: the partition jobs are submitted to [default: the cluster''s]')
            [CompletionResult]::new('--sbatch-arg', '--sbatch-arg', [CompletionResultType]::ParameterName, 'Slurm: an extra sbatch option for every job, e.g. --sbatch-arg=--account=lab (repeatable)')
            [CompletionResult]::new('--max-jobs', '--max-jobs', [CompletionResultType]::ParameterName, 'Slurm: how many jobs this worker has in Slurm at once, pending or running there')
            [CompletionResult]::new('--slurm-poll-interval', '--slurm-poll-interval', [CompletionResultType]::ParameterName, 'Slurm: how often squeue is asked about this worker''s jobs')
            [CompletionResult]::new('--metrics-listen', '--metrics-listen', [CompletionResultType]::ParameterName, 'Serve this worker''s Prometheus metrics at http://ADDR/metrics (running jobs, log bytes, report retries) and its health at http://ADDR/healthz (503 with the reason while a fault stops it claiming)')
            [CompletionResult]::new('--log-format', '--log-format', [CompletionResultType]::ParameterName, 'Service log lines: text (journald-friendly) or json (one object a line, for log shippers)')
            [CompletionResult]::new('--redactor', '--redactor', [CompletionResultType]::ParameterName, 'Slurm: the jobctl binary batch scripts pipe job output through to redact it, as the compute nodes see it (a shared path when this one is not on them) [default: this binary]')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file [default: ~/.config/jobctl/config.toml]')
            [CompletionResult]::new('--run-as-owner', '--run-as-owner', [CompletionResultType]::ParameterName, 'Run each job as the local account named like its owner (uid, gid, groups, HOME), as Slurm does; the worker must run as root')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'jobctl;web' {
            [CompletionResult]::new('--listen', '--listen', [CompletionResultType]::ParameterName, 'Address to listen on')
            [CompletionResult]::new('--api-url', '--api-url', [CompletionResultType]::ParameterName, 'The API''s URL, as this server reaches it [default: what `jobctl up` recorded, else http://127.0.0.1:8765]')
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Data dir, where `jobctl up` records the API''s URL [default: ~/.local/share/jobctl]')
            [CompletionResult]::new('--log-format', '--log-format', [CompletionResultType]::ParameterName, 'Service log lines: text (journald-friendly) or json (one object a line, for log shippers)')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file [default: ~/.config/jobctl/config.toml]')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'jobctl;up' {
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Where the SQLite database, the logs and the tokens live [default: ~/.local/share/jobctl]')
            [CompletionResult]::new('--listen', '--listen', [CompletionResultType]::ParameterName, 'The API''s address')
            [CompletionResult]::new('--web-listen', '--web-listen', [CompletionResultType]::ParameterName, 'The web UI''s address')
            [CompletionResult]::new('--slots', '--slots', [CompletionResultType]::ParameterName, 'Jobs to run at once')
            [CompletionResult]::new('--log-format', '--log-format', [CompletionResultType]::ParameterName, 'Service log lines: text (journald-friendly) or json (one object a line, for log shippers)')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file [default: ~/.config/jobctl/config.toml]')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'jobctl;submit' {
            [CompletionResult]::new('--name', '--name', [CompletionResultType]::ParameterName, 'A name to recognise the job by')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Stop the job after this long, e.g. 90s, 30m, 2h')
            [CompletionResult]::new('--gpus', '--gpus', [CompletionResultType]::ParameterName, 'GPUs the job needs; it sees only those in CUDA_VISIBLE_DEVICES [default: 0]')
            [CompletionResult]::new('--cpus', '--cpus', [CompletionResultType]::ParameterName, 'CPUs the job needs [default: 1]')
            [CompletionResult]::new('-e', '-e', [CompletionResultType]::ParameterName, 'Set a variable for the job (K=V), or pass this shell''s value (K); repeatable')
            [CompletionResult]::new('--env', '--env', [CompletionResultType]::ParameterName, 'Set a variable for the job (K=V), or pass this shell''s value (K); repeatable')
            [CompletionResult]::new('--secret', '--secret', [CompletionResultType]::ParameterName, 'Pass the secret NAME from this shell''s environment variable NAME: set in the job''s environment, never shown, redacted from its output; repeatable')
            [CompletionResult]::new('--cwd', '--cwd', [CompletionResultType]::ParameterName, 'Working directory on the worker [default: the current directory]')
            [CompletionResult]::new('--interval', '--interval', [CompletionResultType]::ParameterName, 'Poll interval when following')
            [CompletionResult]::new('--api-url', '--api-url', [CompletionResultType]::ParameterName, 'The API''s URL [default: the one `jobctl up` wrote, else http://127.0.0.1:8765]')
            [CompletionResult]::new('--token', '--token', [CompletionResultType]::ParameterName, 'API token [default: config file, else the token `jobctl up` wrote (admin; worker token for `jobctl worker`)]; on a shared machine prefer --token-file: a command line is visible to every local user')
            [CompletionResult]::new('--token-file', '--token-file', [CompletionResultType]::ParameterName, 'A file holding the API token, readable by its owner only')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file [default: ~/.config/jobctl/config.toml]')
            [CompletionResult]::new('-f', '-f', [CompletionResultType]::ParameterName, 'Follow the job''s output until it ends: the log goes to stdout and the job id to stderr (Ctrl-C stops following, not the job)')
            [CompletionResult]::new('--follow', '--follow', [CompletionResultType]::ParameterName, 'Follow the job''s output until it ends: the log goes to stdout and the job id to stderr (Ctrl-C stops following, not the job)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print the whole job as JSON instead of its id')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'jobctl;list' {
            [CompletionResult]::new('--status', '--status', [CompletionResultType]::ParameterName, 'Only jobs in these statuses (comma-separated or repeated)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only jobs whose name or command contains TEXT (case-insensitive)')
            [CompletionResult]::new('--search', '--search', [CompletionResultType]::ParameterName, 'Only jobs whose name or command contains TEXT (case-insensitive)')
            [CompletionResult]::new('--owner', '--owner', [CompletionResultType]::ParameterName, 'Only this user''s jobs (admins)')
            [CompletionResult]::new('--limit', '--limit', [CompletionResultType]::ParameterName, 'At most this many jobs, newest first')
            [CompletionResult]::new('--cursor', '--cursor', [CompletionResultType]::ParameterName, 'Continue after an earlier listing: the cursor its hint printed')
            [CompletionResult]::new('--api-url', '--api-url', [CompletionResultType]::ParameterName, 'The API''s URL [default: the one `jobctl up` wrote, else http://127.0.0.1:8765]')
            [CompletionResult]::new('--token', '--token', [CompletionResultType]::ParameterName, 'API token [default: config file, else the token `jobctl up` wrote (admin; worker token for `jobctl worker`)]; on a shared machine prefer --token-file: a command line is visible to every local user')
            [CompletionResult]::new('--token-file', '--token-file', [CompletionResultType]::ParameterName, 'A file holding the API token, readable by its owner only')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file [default: ~/.config/jobctl/config.toml]')
            [CompletionResult]::new('--all', '--all', [CompletionResultType]::ParameterName, 'Every user''s jobs, not just your own (needs an admin token)')
            [CompletionResult]::new('--all-pages', '--all-pages', [CompletionResultType]::ParameterName, 'Every matching job, however many (fetched a page at a time)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print JSON (every field, and `next_cursor`)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'jobctl;show' {
            [CompletionResult]::new('--api-url', '--api-url', [CompletionResultType]::ParameterName, 'The API''s URL [default: the one `jobctl up` wrote, else http://127.0.0.1:8765]')
            [CompletionResult]::new('--token', '--token', [CompletionResultType]::ParameterName, 'API token [default: config file, else the token `jobctl up` wrote (admin; worker token for `jobctl worker`)]; on a shared machine prefer --token-file: a command line is visible to every local user')
            [CompletionResult]::new('--token-file', '--token-file', [CompletionResultType]::ParameterName, 'A file holding the API token, readable by its owner only')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file [default: ~/.config/jobctl/config.toml]')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print JSON')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'jobctl;cancel' {
            [CompletionResult]::new('--api-url', '--api-url', [CompletionResultType]::ParameterName, 'The API''s URL [default: the one `jobctl up` wrote, else http://127.0.0.1:8765]')
            [CompletionResult]::new('--token', '--token', [CompletionResultType]::ParameterName, 'API token [default: config file, else the token `jobctl up` wrote (admin; worker token for `jobctl worker`)]; on a shared machine prefer --token-file: a command line is visible to every local user')
            [CompletionResult]::new('--token-file', '--token-file', [CompletionResultType]::ParameterName, 'A file holding the API token, readable by its owner only')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file [default: ~/.config/jobctl/config.toml]')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print the job as JSON')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'jobctl;logs' {
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Start with the last N lines')
            [CompletionResult]::new('--tail', '--tail', [CompletionResultType]::ParameterName, 'Start with the last N lines')
            [CompletionResult]::new('--interval', '--interval', [CompletionResultType]::ParameterName, 'How often to poll for new output while following')
            [CompletionResult]::new('--api-url', '--api-url', [CompletionResultType]::ParameterName, 'The API''s URL [default: the one `jobctl up` wrote, else http://127.0.0.1:8765]')
            [CompletionResult]::new('--token', '--token', [CompletionResultType]::ParameterName, 'API token [default: config file, else the token `jobctl up` wrote (admin; worker token for `jobctl worker`)]; on a shared machine prefer --token-file: a command line is visible to every local user')
            [CompletionResult]::new('--token-file', '--token-file', [CompletionResultType]::ParameterName, 'A file holding the API token, readable by its owner only')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file [default: ~/.config/jobctl/config.toml]')
            [CompletionResult]::new('-f', '-f', [CompletionResultType]::ParameterName, 'Keep printing new output until the job ends (Ctrl-C stops following, not the job)')
            [CompletionResult]::new('--follow', '--follow', [CompletionResultType]::ParameterName, 'Keep printing new output until the job ends (Ctrl-C stops following, not the job)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'jobctl;workers' {
            [CompletionResult]::new('--api-url', '--api-url', [CompletionResultType]::ParameterName, 'The API''s URL [default: the one `jobctl up` wrote, else http://127.0.0.1:8765]')
            [CompletionResult]::new('--token', '--token', [CompletionResultType]::ParameterName, 'API token [default: config file, else the token `jobctl up` wrote (admin; worker token for `jobctl worker`)]; on a shared machine prefer --token-file: a command line is visible to every local user')
            [CompletionResult]::new('--token-file', '--token-file', [CompletionResultType]::ParameterName, 'A file holding the API token, readable by its owner only')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file [default: ~/.config/jobctl/config.toml]')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print JSON (every field, with the ids of the running jobs)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'jobctl;token' {
            [CompletionResult]::new('--database', '--database', [CompletionResultType]::ParameterName, 'Database URL: sqlite://PATH or postgres://USER@HOST/DB [default: SQLite in the data dir]')
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Default home of the SQLite file and the logs [default: ~/.local/share/jobctl]')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file [default: ~/.config/jobctl/config.toml]')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('create', 'create', [CompletionResultType]::ParameterValue, 'Create a token and print it (only once; it cannot be shown again)')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List tokens: names, roles, creation times (never secrets)')
            [CompletionResult]::new('revoke', 'revoke', [CompletionResultType]::ParameterValue, 'Revoke a token: requests with it fail within a second')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'jobctl;token;create' {
            [CompletionResult]::new('--name', '--name', [CompletionResultType]::ParameterName, 'Who holds it: the owner name of the jobs it submits')
            [CompletionResult]::new('--role', '--role', [CompletionResultType]::ParameterName, 'user: own jobs only; admin: all jobs; worker: runs jobs')
            [CompletionResult]::new('--database', '--database', [CompletionResultType]::ParameterName, 'Database URL: sqlite://PATH or postgres://USER@HOST/DB [default: SQLite in the data dir]')
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Default home of the SQLite file and the logs [default: ~/.local/share/jobctl]')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file [default: ~/.config/jobctl/config.toml]')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'jobctl;token;list' {
            [CompletionResult]::new('--database', '--database', [CompletionResultType]::ParameterName, 'Database URL: sqlite://PATH or postgres://USER@HOST/DB [default: SQLite in the data dir]')
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Default home of the SQLite file and the logs [default: ~/.local/share/jobctl]')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file [default: ~/.config/jobctl/config.toml]')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print JSON')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'jobctl;token;revoke' {
            [CompletionResult]::new('--database', '--database', [CompletionResultType]::ParameterName, 'Database URL: sqlite://PATH or postgres://USER@HOST/DB [default: SQLite in the data dir]')
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Default home of the SQLite file and the logs [default: ~/.local/share/jobctl]')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file [default: ~/.config/jobctl/config.toml]')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'jobctl;token;help' {
            [CompletionResult]::new('create', 'create', [CompletionResultType]::ParameterValue, 'Create a token and print it (only once; it cannot be shown again)')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List tokens: names, roles, creation times (never secrets)')
            [CompletionResult]::new('revoke', 'revoke', [CompletionResultType]::ParameterValue, 'Revoke a token: requests with it fail within a second')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'jobctl;token;help;create' {
            break
        }
        'jobctl;token;help;list' {
            break
        }
        'jobctl;token;help;revoke' {
            break
        }
        'jobctl;token;help;help' {
            break
        }
        'jobctl;admin' {
            [CompletionResult]::new('--database', '--database', [CompletionResultType]::ParameterName, 'Database URL: sqlite://PATH or postgres://USER@HOST/DB [default: SQLite in the data dir]')
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Default home of the SQLite file and the logs [default: ~/.local/share/jobctl]')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file [default: ~/.config/jobctl/config.toml]')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('backup', 'backup', [CompletionResultType]::ParameterValue, 'Copy the SQLite database to FILE while the api runs (VACUUM INTO; never overwrites)')
            [CompletionResult]::new('migrate', 'migrate', [CompletionResultType]::ParameterValue, 'Copy every job and token from the SQLite store into an empty PostgreSQL database')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'jobctl;admin;backup' {
            [CompletionResult]::new('--database', '--database', [CompletionResultType]::ParameterName, 'Database URL: sqlite://PATH or postgres://USER@HOST/DB [default: SQLite in the data dir]')
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Default home of the SQLite file and the logs [default: ~/.local/share/jobctl]')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file [default: ~/.config/jobctl/config.toml]')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'jobctl;admin;migrate' {
            [CompletionResult]::new('--to', '--to', [CompletionResultType]::ParameterName, 'The PostgreSQL database to fill: postgres://USER@HOST/DB')
            [CompletionResult]::new('--database', '--database', [CompletionResultType]::ParameterName, 'Database URL: sqlite://PATH or postgres://USER@HOST/DB [default: SQLite in the data dir]')
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Default home of the SQLite file and the logs [default: ~/.local/share/jobctl]')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file [default: ~/.config/jobctl/config.toml]')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'jobctl;admin;help' {
            [CompletionResult]::new('backup', 'backup', [CompletionResultType]::ParameterValue, 'Copy the SQLite database to FILE while the api runs (VACUUM INTO; never overwrites)')
            [CompletionResult]::new('migrate', 'migrate', [CompletionResultType]::ParameterValue, 'Copy every job and token from the SQLite store into an empty PostgreSQL database')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'jobctl;admin;help;backup' {
            break
        }
        'jobctl;admin;help;migrate' {
            break
        }
        'jobctl;admin;help;help' {
            break
        }
        'jobctl;completions' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file [default: ~/.config/jobctl/config.toml]')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'jobctl;__run-job' {
            [CompletionResult]::new('--control-fd', '--control-fd', [CompletionResultType]::ParameterName, 'The supervisor''s end of the worker''s control socket')
            [CompletionResult]::new('--cwd', '--cwd', [CompletionResultType]::ParameterName, 'The job''s working directory, entered by the supervisor')
            [CompletionResult]::new('--job-id', '--job-id', [CompletionResultType]::ParameterName, 'The job''s id, for the supervisor''s process name')
            [CompletionResult]::new('--lease-ms', '--lease-ms', [CompletionResultType]::ParameterName, 'Stop the job when the worker has not renewed its lease for this long')
            [CompletionResult]::new('--kill-grace-ms', '--kill-grace-ms', [CompletionResultType]::ParameterName, 'Between SIGTERM and SIGKILL when the lease runs out')
            [CompletionResult]::new('--redact-secret', '--redact-secret', [CompletionResultType]::ParameterName, 'Redact the value of this environment variable (a job secret) from the job''s output; repeatable')
            [CompletionResult]::new('--run-as', '--run-as', [CompletionResultType]::ParameterName, 'Run the job as this local account (uid, gid, supplementary groups, HOME, USER, LOGNAME); the supervisor must run as root')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file [default: ~/.config/jobctl/config.toml]')
            [CompletionResult]::new('--redact-shapes', '--redact-shapes', [CompletionResultType]::ParameterName, 'Redact the well-known token shapes from the job''s output')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'jobctl;__redact' {
            [CompletionResult]::new('--secret', '--secret', [CompletionResultType]::ParameterName, 'Redact the value of this environment variable (a job secret); repeatable')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file [default: ~/.config/jobctl/config.toml]')
            [CompletionResult]::new('--shapes', '--shapes', [CompletionResultType]::ParameterName, 'Redact the well-known token shapes')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'jobctl;help' {
            [CompletionResult]::new('api', 'api', [CompletionResultType]::ParameterValue, 'Run the REST API (job state, logs, auth)')
            [CompletionResult]::new('worker', 'worker', [CompletionResultType]::ParameterValue, 'Run a worker: claim jobs and run them with live logs')
            [CompletionResult]::new('web', 'web', [CompletionResultType]::ParameterValue, 'Run the browser UI')
            [CompletionResult]::new('up', 'up', [CompletionResultType]::ParameterValue, 'Run api, worker and web UI in one process, for one machine')
            [CompletionResult]::new('submit', 'submit', [CompletionResultType]::ParameterValue, 'Submit a job; prints its id')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List jobs, newest first')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show every field of a job')
            [CompletionResult]::new('cancel', 'cancel', [CompletionResultType]::ParameterValue, 'Cancel a pending or running job')
            [CompletionResult]::new('logs', 'logs', [CompletionResultType]::ParameterValue, 'Print a job''s log, or follow it while it runs')
            [CompletionResult]::new('workers', 'workers', [CompletionResultType]::ParameterValue, 'List the workers: state, executor, slots, running jobs (admins)')
            [CompletionResult]::new('token', 'token', [CompletionResultType]::ParameterValue, 'Create, list and revoke API tokens (works on the database directly)')
            [CompletionResult]::new('admin', 'admin', [CompletionResultType]::ParameterValue, 'Back up the store, or move it from SQLite to PostgreSQL (works on the database directly)')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print shell completions')
            [CompletionResult]::new('__run-job', '__run-job', [CompletionResultType]::ParameterValue, 'Internal: the per-job supervisor a worker starts')
            [CompletionResult]::new('__redact', '__redact', [CompletionResultType]::ParameterValue, 'Internal: the output filter of a Slurm job''s batch script')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'jobctl;help;api' {
            break
        }
        'jobctl;help;worker' {
            break
        }
        'jobctl;help;web' {
            break
        }
        'jobctl;help;up' {
            break
        }
        'jobctl;help;submit' {
            break
        }
        'jobctl;help;list' {
            break
        }
        'jobctl;help;show' {
            break
        }
        'jobctl;help;cancel' {
            break
        }
        'jobctl;help;logs' {
            break
        }
        'jobctl;help;workers' {
            break
        }
        'jobctl;help;token' {
            [CompletionResult]::new('create', 'create', [CompletionResultType]::ParameterValue, 'Create a token and print it (only once; it cannot be shown again)')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List tokens: names, roles, creation times (never secrets)')
            [CompletionResult]::new('revoke', 'revoke', [CompletionResultType]::ParameterValue, 'Revoke a token: requests with it fail within a second')
            break
        }
        'jobctl;help;token;create' {
            break
        }
        'jobctl;help;token;list' {
            break
        }
        'jobctl;help;token;revoke' {
            break
        }
        'jobctl;help;admin' {
            [CompletionResult]::new('backup', 'backup', [CompletionResultType]::ParameterValue, 'Copy the SQLite database to FILE while the api runs (VACUUM INTO; never overwrites)')
            [CompletionResult]::new('migrate', 'migrate', [CompletionResultType]::ParameterValue, 'Copy every job and token from the SQLite store into an empty PostgreSQL database')
            break
        }
        'jobctl;help;admin;backup' {
            break
        }
        'jobctl;help;admin;migrate' {
            break
        }
        'jobctl;help;completions' {
            break
        }
        'jobctl;help;__run-job' {
            break
        }
        'jobctl;help;__redact' {
            break
        }
        'jobctl;help;help' {
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}
