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
            Ok(job) => {
                assert_eq!(job.status, JobStatus::Completed);
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
