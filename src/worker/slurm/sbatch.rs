//! `sbatch`'s command line for one job, its answer, and whose fault a
//! refusal is.

use std::path::Path;

use crate::domain::JobId;

/// What the command line is made of.
#[derive(Debug, Clone)]
pub struct SubmitSpec<'a> {
    pub job_id: JobId,
    /// This worker's name: recorded in the Slurm job's comment, so a
    /// restarted worker finds its own jobs.
    pub worker: &'a str,
    /// The job's log file, already created: both output streams, appended.
    pub log: &'a Path,
    pub cwd: Option<&'a str>,
    pub timeout_seconds: Option<u64>,
    /// `--partition`, when the worker was given one.
    pub partition: Option<&'a str>,
    /// The worker's `--sbatch-arg`s, in order.
    pub extra: &'a [String],
    /// What the job asks for; see [`resource_args`].
    pub resources: Resources,
}

/// The resources a job asks for (its `gpus` and `cpus`). The defaults (0
/// GPUs, 1 CPU) are Slurm's own and add no option.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resources {
    pub gpus: u32,
    pub cpus: u32,
}

impl Default for Resources {
    fn default() -> Self {
        Resources { gpus: 0, cpus: 1 }
    }
}

/// The `sbatch` arguments for a job; the script goes to its stdin.
///
/// The worker's `--sbatch-arg`s come first, so what jobctl relies on (the
/// output file, the isolated environment, the comment it finds its jobs by)
/// always wins: for `sbatch`, a later option overrides an earlier one. An
/// `--sbatch-arg=--time=…` thus serves as the limit of jobs without a
/// timeout of their own.
pub fn sbatch_args(spec: &SubmitSpec<'_>) -> Vec<String> {
    let mut args: Vec<String> = spec.extra.to_vec();
    let log = spec.log.display();
    args.extend([
        "--parsable".to_string(),
        format!("--job-name=jobctl-{}", spec.job_id),
        format!("--comment={}", comment(spec.job_id, spec.worker)),
        format!("--output={log}"),
        format!("--error={log}"),
        "--open-mode=append".to_string(),
        // The job's environment is the script's business alone: nothing of
        // the worker's (its token above all) reaches the job.
        "--export=NONE".to_string(),
        // A requeued job would run a second time into the same log; jobctl
        // reports a node failure instead and the user decides.
        "--no-requeue".to_string(),
    ]);
    if let Some(cwd) = spec.cwd {
        args.push(format!("--chdir={cwd}"));
    }
    if let Some(secs) = spec.timeout_seconds {
        args.push(format!("--time={}", time_limit_minutes(secs)));
    }
    if let Some(partition) = spec.partition {
        args.push(format!("--partition={partition}"));
    }
    args.extend(resource_args(spec.resources));
    args
}

/// Where a job's resources become Slurm's: `gpus` → `--gres=gpu:N`,
/// `cpus` → `--cpus-per-task=N`. Defaults add nothing, so a site's own
/// defaults (`DefCpuPerGPU`, a partition's GRES) stay in force.
pub fn resource_args(resources: Resources) -> Vec<String> {
    let mut args = Vec::new();
    if resources.gpus > 0 {
        args.push(format!("--gres=gpu:{}", resources.gpus));
    }
    if resources.cpus > 1 {
        args.push(format!("--cpus-per-task={}", resources.cpus));
    }
    args
}

/// Slurm counts time limits in whole minutes; jobctl enforces the exact
/// timeout itself, so Slurm's limit is only ever the later backstop.
pub fn time_limit_minutes(timeout_seconds: u64) -> u64 {
    timeout_seconds.div_ceil(60).max(1)
}

/// The comment that marks a Slurm job as a jobctl job of `worker`.
pub fn comment(job: JobId, worker: &str) -> String {
    format!("jobctl job={job} worker={worker}")
}

/// The jobctl job and worker a Slurm job's comment names, if it is ours.
pub fn parse_comment(comment: &str) -> Option<(JobId, &str)> {
    let rest = comment.strip_prefix("jobctl job=")?;
    let (id, worker) = rest.split_once(" worker=")?;
    Some((JobId::parse(id).ok()?, worker))
}

/// The job id in `sbatch --parsable`'s answer: `ID` or `ID;CLUSTER`.
pub fn parse_job_id(stdout: &str) -> Option<u64> {
    let line = stdout.lines().map(str::trim).find(|l| !l.is_empty())?;
    line.split(';').next()?.trim().parse().ok()
}

/// Why a submission failed, and so what becomes of the job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubmitFailure {
    /// Slurm refused this job (a partition limit, an impossible request):
    /// it fails with Slurm's message.
    Job(String),
    /// Slurm could not be asked (controller down, authentication, no
    /// `sbatch`): the job goes back to pending and the worker backs off.
    Cluster(String),
}

/// Messages of a Slurm that could not be reached or is overloaded. Anything
/// else the controller answered with is about the job itself.
const CLUSTER_TROUBLE: &[&str] = &[
    "unable to contact slurm controller",
    "socket timed out",
    "zero bytes were transmitted or received",
    "temporarily unable to accept job",
    "communication connection failure",
    "connection refused",
    "controller not responding",
    "slurmctld not responding",
    "authentication",
    "munge",
    "credential",
    "unable to process configuration file",
    "cannot stat file",
    "transport endpoint",
    "no route to host",
    "network is unreachable",
    "too many open files",
];

/// Whose fault `sbatch`'s failure is, from what it printed.
pub fn classify_failure(stderr: &str) -> SubmitFailure {
    let message = slurm_message(stderr);
    let lower = message.to_lowercase();
    if CLUSTER_TROUBLE.iter().any(|p| lower.contains(p)) {
        SubmitFailure::Cluster(message)
    } else if lower.contains("submission failed")
        || lower.contains("invalid")
        || lower.contains("unrecognized option")
        || lower.contains("requested node configuration")
    {
        SubmitFailure::Job(message)
    } else {
        // Something unexpected broke (sbatch crashed, printed nothing):
        // not a verdict on the job, so it should not fail it.
        SubmitFailure::Cluster(message)
    }
}

/// The lines worth showing from a Slurm command's stderr, without the
/// `sbatch: error: ` prefixes, on one line and bounded in length.
pub fn slurm_message(stderr: &str) -> String {
    let mut lines: Vec<&str> = stderr
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| {
            ["sbatch: error: ", "sbatch: fatal: ", "sbatch: "]
                .iter()
                .find_map(|p| l.strip_prefix(p))
                .unwrap_or(l)
        })
        .collect();
    // sbatch repeats a configuration problem once per retry.
    lines.dedup();
    let joined = lines.join("; ");
    if joined.is_empty() {
        return "sbatch failed without a message".to_string();
    }
    const MAX: usize = 600;
    if joined.len() > MAX {
        let cut = joined.floor_char_boundary(MAX);
        format!("{}…", &joined[..cut])
    } else {
        joined
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec<'a>(extra: &'a [String], log: &'a Path) -> SubmitSpec<'a> {
        SubmitSpec {
            job_id: JobId::parse("67e55044-10b1-426f-9247-bb680e5fe0c8").unwrap(),
            worker: "login 1",
            log,
            cwd: Some("/home/ada/my project"),
            timeout_seconds: Some(61),
            partition: Some("gpu"),
            extra,
            resources: Resources::default(),
        }
    }

    #[test]
    fn the_command_line_carries_the_job_and_ours_wins_over_extra_args() {
        let extra = vec!["--account=lab".to_string(), "--output=/tmp/x".to_string()];
        let log = Path::new("/srv/logs/67e55044-10b1-426f-9247-bb680e5fe0c8.log");
        let args = sbatch_args(&spec(&extra, log));
        let id = "67e55044-10b1-426f-9247-bb680e5fe0c8";
        assert_eq!(
            args,
            vec![
                "--account=lab".to_string(),
                "--output=/tmp/x".into(),
                "--parsable".into(),
                format!("--job-name=jobctl-{id}"),
                format!("--comment=jobctl job={id} worker=login 1"),
                format!("--output=/srv/logs/{id}.log"),
                format!("--error=/srv/logs/{id}.log"),
                "--open-mode=append".into(),
                "--export=NONE".into(),
                "--no-requeue".into(),
                "--chdir=/home/ada/my project".into(),
                "--time=2".into(),
                "--partition=gpu".into(),
            ]
        );
        // Each is one argv word: a space in a directory never splits it.
        let mut bare = spec(&[], log);
        bare.cwd = None;
        bare.timeout_seconds = None;
        bare.partition = None;
        let args = sbatch_args(&bare);
        assert!(!args.iter().any(|a| a.starts_with("--chdir")
            || a.starts_with("--time")
            || a.starts_with("--partition")));
    }

    #[test]
    fn time_limits_round_up_to_whole_minutes() {
        assert_eq!(time_limit_minutes(1), 1);
        assert_eq!(time_limit_minutes(59), 1);
        assert_eq!(time_limit_minutes(60), 1);
        assert_eq!(time_limit_minutes(61), 2);
        assert_eq!(time_limit_minutes(7200), 120);
        assert_eq!(time_limit_minutes(0), 1);
    }

    #[test]
    fn a_job_s_gpus_and_cpus_come_last_and_win_over_extra_args() {
        let extra = vec!["--gres=gpu:1".to_string()];
        let log = Path::new("/srv/logs/x.log");
        let mut with = spec(&extra, log);
        with.resources = Resources { gpus: 4, cpus: 16 };
        let args = sbatch_args(&with);
        assert_eq!(args[0], "--gres=gpu:1");
        assert_eq!(
            &args[args.len() - 2..],
            ["--gres=gpu:4", "--cpus-per-task=16"]
        );
        with.resources = Resources { gpus: 0, cpus: 2 };
        let args = sbatch_args(&with);
        assert_eq!(args.last().unwrap(), "--cpus-per-task=2");
        assert_eq!(args.iter().filter(|a| a.starts_with("--gres")).count(), 1);
    }

    #[test]
    fn resources_map_to_gres_and_cpus_per_task() {
        assert!(resource_args(Resources::default()).is_empty());
        assert_eq!(
            resource_args(Resources { gpus: 2, cpus: 8 }),
            vec!["--gres=gpu:2", "--cpus-per-task=8"]
        );
    }

    #[test]
    fn comments_round_trip_and_foreign_ones_are_not_ours() {
        let id = JobId::new();
        let c = comment(id, "login-1 (a|b)");
        assert_eq!(parse_comment(&c), Some((id, "login-1 (a|b)")));
        assert_eq!(parse_comment("(null)"), None);
        assert_eq!(parse_comment("jobctl job=nope worker=x"), None);
        assert_eq!(parse_comment("my own job"), None);
    }

    #[test]
    fn job_ids_from_parsable_output() {
        assert_eq!(parse_job_id("1234\n"), Some(1234));
        assert_eq!(parse_job_id("1234;cluster2\n"), Some(1234));
        assert_eq!(parse_job_id("\n 77 \n"), Some(77));
        assert_eq!(parse_job_id("Submitted batch job 5\n"), None);
        assert_eq!(parse_job_id(""), None);
    }

    #[test]
    fn failures_are_the_jobs_or_the_clusters() {
        // Recorded from Slurm 22.05.
        let job = [
            "sbatch: error: Batch job submission failed: Requested time limit is invalid (missing or exceeds some limit)\n",
            "sbatch: error: invalid partition specified: nope\nsbatch: error: Batch job submission failed: Invalid partition name specified\n",
            "sbatch: error: Batch job submission failed: Requested node configuration is not available\n",
            "sbatch: error: Batch job submission failed: Invalid account or account/partition combination specified\n",
        ];
        for stderr in job {
            assert!(
                matches!(classify_failure(stderr), SubmitFailure::Job(_)),
                "{stderr}"
            );
        }
        let cluster = [
            "sbatch: error: Batch job submission failed: Unable to contact slurm controller (connect failure)\n",
            "sbatch: error: s_p_parse_file: cannot stat file /etc/slurm/slurm.conf: No such file or directory, retrying in 1sec up to 60sec\nsbatch: error: ClusterName needs to be specified\nsbatch: fatal: Unable to process configuration file\n",
            "sbatch: error: Batch job submission failed: Socket timed out on send/recv operation\n",
            "sbatch: error: Munge encode failed: Failed to access \"/run/munge/munge.socket.2\": No such file or directory\n",
            "",
        ];
        for stderr in cluster {
            assert!(
                matches!(classify_failure(stderr), SubmitFailure::Cluster(_)),
                "{stderr}"
            );
        }
    }

    #[test]
    fn messages_lose_the_prefixes_and_stay_short() {
        assert_eq!(
            slurm_message(
                "sbatch: error: invalid partition specified: nope\nsbatch: error: Batch job submission failed: Invalid partition name specified\n"
            ),
            "invalid partition specified: nope; Batch job submission failed: Invalid partition name specified"
        );
        assert_eq!(slurm_message("  \n"), "sbatch failed without a message");
        let long = format!("sbatch: error: {}", "é".repeat(1000));
        let m = slurm_message(&long);
        assert!(m.len() <= 604 && m.ends_with('…'));
    }
}
