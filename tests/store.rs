//! The store contract, raced: claims, reaps, reports and cancels from many
//! tasks at once never hand a job out twice or move a status backwards — on
//! SQLite and on PostgreSQL.

#[macro_use]
mod common;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use common::Backend;
use jobctl::domain::{JobId, JobSpec, JobStatus, Role};
use jobctl::protocol::SubmitJob;
use jobctl::store::{self, ClaimOffer, JobEnd, JobFilter, JobStore, StoreError};

backend_tests!(
    many_claimers_get_distinct_jobs,
    reaper_and_reports_race_without_going_backwards,
    cancels_racing_claims_leave_consistent_jobs,
    tokens_are_unique_by_name_and_revocable,
    listing_filters_and_orders,
    batched_claims_hand_each_job_out_once_within_what_is_offered,
    grouped_reports_answer_each_report_on_its_own,
    concurrent_submits_are_each_recorded_with_their_secrets,
);

async fn open(
    backend: &Backend,
) -> (
    Arc<dyn JobStore>,
    tempfile::TempDir,
    Option<common::SchemaGuard>,
) {
    let dir = tempfile::tempdir().unwrap();
    let (url, guard) = backend.fresh_database(dir.path()).await;
    (store::open(&url).await.unwrap(), dir, guard)
}

fn spec(n: usize) -> JobSpec {
    JobSpec::try_from(SubmitJob {
        command: vec!["echo".into(), n.to_string()],
        ..SubmitJob::default()
    })
    .unwrap()
}

/// Submits arriving together (committed in one group on SQLite) are each
/// recorded, once, as answered — secrets included.
async fn concurrent_submits_are_each_recorded_with_their_secrets(backend: Backend) {
    let (store, _dir, _guard) = open(&backend).await;
    let tasks: Vec<_> = (0..64)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut submit = SubmitJob {
                    command: vec!["echo".into(), i.to_string()],
                    ..SubmitJob::default()
                };
                if i % 4 == 0 {
                    submit.secrets = jobctl::domain::Secrets(
                        [("API_KEY".to_string(), format!("value-{i}"))].into(),
                    );
                }
                let spec = JobSpec::try_from(submit).unwrap();
                (i, store.insert_job("alice", &spec).await.unwrap())
            })
        })
        .collect();
    let mut submitted = std::collections::HashMap::new();
    for task in tasks {
        let (i, job) = task.await.unwrap();
        assert_eq!(job.command, vec!["echo".to_string(), i.to_string()]);
        assert_eq!(job.status, JobStatus::Pending);
        submitted.insert(job.id, i);
    }
    assert_eq!(submitted.len(), 64, "distinct ids");
    let mut claimed = 0;
    while let Some((job, lease)) = store
        .claim_job("w", Duration::from_secs(60), &ClaimOffer::default())
        .await
        .unwrap()
    {
        let i = submitted[&job.id];
        assert_eq!(job.command[1], i.to_string());
        let secrets = store.claimed_secrets(job.id, &lease).await.unwrap();
        if i % 4 == 0 {
            assert_eq!(job.secret_names, vec!["API_KEY".to_string()]);
            assert_eq!(secrets.0["API_KEY"], format!("value-{i}"));
        } else {
            assert!(job.secret_names.is_empty() && secrets.is_empty());
        }
        claimed += 1;
    }
    assert_eq!(claimed, 64, "each submit recorded once");
}

async fn many_claimers_get_distinct_jobs(backend: Backend) {
    let (store, _dir, _guard) = open(&backend).await;
    let mut ids = HashSet::new();
    for i in 0..300 {
        ids.insert(store.insert_job("alice", &spec(i)).await.unwrap().id);
    }
    let mut tasks = Vec::new();
    for w in 0..16 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut got = Vec::new();
            while let Some((job, _)) = store
                .claim_job(
                    &format!("w{w}"),
                    Duration::from_secs(60),
                    &ClaimOffer::default(),
                )
                .await
                .unwrap()
            {
                assert_eq!(job.status, JobStatus::Running);
                got.push(job.id);
            }
            got
        }));
    }
    let mut claimed = Vec::new();
    for t in tasks {
        claimed.extend(t.await.unwrap());
    }
    assert_eq!(claimed.len(), 300, "each job handed out once");
    assert_eq!(claimed.into_iter().collect::<HashSet<_>>(), ids);
}

async fn reaper_and_reports_race_without_going_backwards(backend: Backend) {
    let (store, _dir, _guard) = open(&backend).await;
    let mut leases = Vec::new();
    for i in 0..60 {
        store.insert_job("alice", &spec(i)).await.unwrap();
        // A lease that has already run out: the reaper may take any of them.
        let (job, lease) = store
            .claim_job("w", Duration::ZERO, &ClaimOffer::default())
            .await
            .unwrap()
            .unwrap();
        leases.push((job.id, lease));
    }
    let reaper = {
        let store = store.clone();
        tokio::spawn(async move {
            let mut lost = Vec::new();
            for _ in 0..20 {
                lost.extend(
                    store
                        .reap_expired_leases()
                        .await
                        .unwrap()
                        .into_iter()
                        .map(|l| l.id),
                );
            }
            lost
        })
    };
    let second_reaper = {
        let store = store.clone();
        tokio::spawn(async move {
            store
                .reap_expired_leases()
                .await
                .unwrap()
                .into_iter()
                .map(|l| l.id)
                .collect::<Vec<_>>()
        })
    };
    let mut reported = HashSet::new();
    let end = JobEnd {
        status: JobStatus::Completed,
        exit_code: Some(0),
        failure_reason: None,
        ago: Duration::ZERO,
    };
    for (id, lease) in &leases {
        match store.finish_job(*id, lease, &end).await {
            Ok(ended) => {
                assert_eq!(ended.job.status, JobStatus::Completed);
                assert!(ended.recorded_now);
                reported.insert(*id);
            }
            Err(StoreError::Conflict(_)) => {}
            Err(e) => panic!("{e}"),
        }
    }
    let mut lost: Vec<JobId> = reaper.await.unwrap();
    lost.extend(second_reaper.await.unwrap());
    let lost_set: HashSet<JobId> = lost.iter().copied().collect();
    assert_eq!(
        lost.len(),
        lost_set.len(),
        "each lost job reaped by one reaper only"
    );
    for (id, _) in &leases {
        let job = store.get_job(*id).await.unwrap().unwrap();
        match (reported.contains(id), lost_set.contains(id)) {
            (true, false) => assert_eq!(job.status, JobStatus::Completed),
            (false, true) => {
                assert_eq!(job.status, JobStatus::Failed);
                assert_eq!(job.failure_reason.as_deref(), Some("worker lost"));
            }
            other => panic!("job {id} both or neither reported and reaped: {other:?}"),
        }
    }
}

async fn cancels_racing_claims_leave_consistent_jobs(backend: Backend) {
    let (store, _dir, _guard) = open(&backend).await;
    let mut ids = Vec::new();
    for i in 0..80 {
        ids.push(store.insert_job("alice", &spec(i)).await.unwrap().id);
    }
    let claimer = {
        let store = store.clone();
        tokio::spawn(async move {
            let mut got = HashSet::new();
            while let Some((job, _)) = store
                .claim_job("w", Duration::from_secs(60), &ClaimOffer::default())
                .await
                .unwrap()
            {
                got.insert(job.id);
            }
            got
        })
    };
    for id in &ids {
        store.request_cancel(*id).await.unwrap();
    }
    let claimed = claimer.await.unwrap();
    for id in &ids {
        let job = store.get_job(*id).await.unwrap().unwrap();
        if claimed.contains(id) {
            assert_eq!(job.status, JobStatus::Running);
            assert!(
                job.cancel_requested,
                "a claimed job keeps its cancel request"
            );
        } else {
            assert_eq!(job.status, JobStatus::Cancelled);
            assert!(job.started_at.is_none());
        }
    }
}

async fn tokens_are_unique_by_name_and_revocable(backend: Backend) {
    let (store, _dir, _guard) = open(&backend).await;
    store
        .create_token("alice", Role::User, "k1", &[1; 32])
        .await
        .unwrap();
    assert!(matches!(
        store
            .create_token("alice", Role::Admin, "k2", &[2; 32])
            .await,
        Err(StoreError::TokenExists(_))
    ));
    let found = store.find_token("k1").await.unwrap().unwrap();
    assert_eq!((found.name.as_str(), found.role), ("alice", Role::User));
    assert_eq!(found.secret_hash, vec![1; 32]);
    assert!(store.find_token("k2").await.unwrap().is_none());
    assert_eq!(store.list_tokens().await.unwrap().len(), 1);
    assert!(store.revoke_token("alice").await.unwrap());
    assert!(!store.revoke_token("alice").await.unwrap());
    assert!(store.find_token("k1").await.unwrap().is_none());
    store
        .create_token("alice", Role::User, "k3", &[3; 32])
        .await
        .unwrap();
}

async fn listing_filters_and_orders(backend: Backend) {
    let (store, _dir, _guard) = open(&backend).await;
    let mut ids = Vec::new();
    for (i, owner) in ["alice", "bob", "alice"].iter().enumerate() {
        ids.push(store.insert_job(owner, &spec(i)).await.unwrap().id);
    }
    store
        .claim_job("w", Duration::from_secs(60), &ClaimOffer::default())
        .await
        .unwrap();
    let all = store
        .list_jobs(&JobFilter {
            limit: 10,
            ..JobFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(
        all.jobs.iter().map(|j| j.id).collect::<Vec<_>>(),
        vec![ids[2], ids[1], ids[0]]
    );
    let alice = store
        .list_jobs(&JobFilter {
            owner: Some("alice".into()),
            limit: 10,
            ..JobFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(alice.jobs.len(), 2);
    let running = store
        .list_jobs(&JobFilter {
            statuses: vec![JobStatus::Running],
            limit: 10,
            ..JobFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(running.jobs.len(), 1);
    assert_eq!(running.jobs[0].id, ids[0], "the oldest was claimed first");
    let prefix = ids[1].to_string()[..5].to_string();
    let by_prefix = store
        .list_jobs(&JobFilter {
            id_prefix: Some(prefix),
            limit: 10,
            ..JobFilter::default()
        })
        .await
        .unwrap();
    assert!(by_prefix.jobs.iter().any(|j| j.id == ids[1]));
}

/// `claim_jobs` from several workers at once: every job handed out exactly
/// once, and no batch more than its offer holds (slots, CPUs, devices, each
/// device to one job).
async fn batched_claims_hand_each_job_out_once_within_what_is_offered(backend: Backend) {
    let (store, _dir, _guard) = open(&backend).await;
    let mut ids = HashSet::new();
    for i in 0..120 {
        let spec = JobSpec::try_from(SubmitJob {
            command: vec!["echo".into(), i.to_string()],
            gpus: Some((i % 3) as u32),
            ..SubmitJob::default()
        })
        .unwrap();
        ids.insert(store.insert_job("alice", &spec).await.unwrap().id);
    }
    let offer = ClaimOffer {
        free_gpu_ids: Some(["0", "1", "2", "3"].map(String::from).to_vec()),
        free_cpus: Some(6),
        free_slots: 8,
        total_gpus: Some(4),
        total_cpus: Some(6),
    };
    let mut tasks = Vec::new();
    for w in 0..4 {
        let (store, offer) = (store.clone(), offer.clone());
        tasks.push(tokio::spawn(async move {
            let mut got = Vec::new();
            loop {
                let batch = store
                    .claim_jobs(&format!("w{w}"), Duration::from_secs(60), &offer, 8)
                    .await
                    .unwrap();
                if batch.is_empty() {
                    return got;
                }
                assert!(batch.len() <= 6, "at most the free CPUs: {}", batch.len());
                let mut devices = HashSet::new();
                for (job, _) in &batch {
                    assert_eq!(job.status, JobStatus::Running);
                    let gpu_ids = job.gpu_ids.clone().unwrap_or_default();
                    assert_eq!(gpu_ids.len() as u32, job.gpus);
                    for id in gpu_ids {
                        assert!(
                            devices.insert(id.clone()),
                            "device {id} given twice in one batch"
                        );
                    }
                    got.push(job.id);
                }
            }
        }));
    }
    let mut claimed = Vec::new();
    for t in tasks {
        claimed.extend(t.await.unwrap());
    }
    assert_eq!(claimed.len(), 120, "each job handed out once");
    assert_eq!(claimed.into_iter().collect::<HashSet<_>>(), ids);
}

/// Final reports sent together (SQLite commits them in groups): each gets
/// its own answer — a stale lease refused, the others recorded — and a
/// retried report finds its end already recorded.
async fn grouped_reports_answer_each_report_on_its_own(backend: Backend) {
    let (store, _dir, _guard) = open(&backend).await;
    let mut leases = Vec::new();
    for i in 0..80 {
        store.insert_job("alice", &spec(i)).await.unwrap();
        let (job, lease) = store
            .claim_job("w", Duration::from_secs(60), &ClaimOffer::default())
            .await
            .unwrap()
            .unwrap();
        leases.push((job.id, lease));
    }
    let end = JobEnd {
        status: JobStatus::Completed,
        exit_code: Some(0),
        failure_reason: None,
        ago: Duration::ZERO,
    };
    let mut tasks = Vec::new();
    for (i, (id, lease)) in leases.iter().cloned().enumerate() {
        let (store, end) = (store.clone(), end.clone());
        tasks.push(tokio::spawn(async move {
            // Every fourth job also gets a report under a wrong lease,
            // racing its real one.
            let stale = if i % 4 == 0 {
                let store = store.clone();
                let end = end.clone();
                Some(tokio::spawn(async move {
                    store.finish_job(id, "not-the-lease", &end).await
                }))
            } else {
                None
            };
            let first = store.finish_job(id, &lease, &end).await;
            let again = store.finish_job(id, &lease, &end).await;
            (id, first, again, stale)
        }));
    }
    for t in tasks {
        let (id, first, again, stale) = t.await.unwrap();
        let (first, again) = (first.unwrap(), again.unwrap());
        assert_eq!(first.job.status, JobStatus::Completed, "job {id}");
        assert!(first.recorded_now, "job {id}: the first report records");
        assert_eq!(again.job.status, JobStatus::Completed, "job {id} again");
        assert!(!again.recorded_now, "job {id}: a repeat is known as one");
        assert_eq!(again.job.finished_at, first.job.finished_at, "job {id}");
        if let Some(stale) = stale {
            match stale.await.unwrap() {
                Err(StoreError::Conflict(_)) => {}
                other => panic!("a report under a stale lease: {other:?}"),
            }
        }
        let job = store.get_job(id).await.unwrap().unwrap();
        assert_eq!(job.status, JobStatus::Completed);
    }
}
