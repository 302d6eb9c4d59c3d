//! A worker's GPUs and CPUs (issue 15): what it announces, what is free,
//! and which devices each running job holds.
//!
//! The worker offers what is free with every claim; the api's store picks
//! the oldest job that fits and gives it the first `gpus` of the offered
//! device ids. The worker then takes exactly those ids (and the job's CPUs)
//! out of its pool into a [`Grant`], which puts them back when dropped —
//! when the job's task ends, however the job ended.

use std::sync::{Arc, Mutex};

use anyhow::Context;

use crate::protocol::{ClaimRequest, Job};

/// What `--gpus` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GpuSetting {
    /// These device ids (`--gpus 0,1,2,3`; `--gpus none` or empty: none).
    Ids(Vec<String>),
    /// Whatever `nvidia-smi -L` lists.
    Auto,
}

impl std::str::FromStr for GpuSetting {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("auto") {
            return Ok(GpuSetting::Auto);
        }
        if s.is_empty() || s.eq_ignore_ascii_case("none") {
            return Ok(GpuSetting::Ids(Vec::new()));
        }
        let mut ids: Vec<String> = Vec::new();
        for id in s.split(',').map(str::trim) {
            if id.is_empty()
                || id.len() > 128
                || !id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_:.".contains(c))
            {
                return Err(format!(
                    "invalid GPU device id {id:?} in {s:?}: expected a comma-separated list of \
                     ids such as 0,1,2,3 (or MIG-… UUIDs), `auto` or `none`"
                ));
            }
            if ids.iter().any(|seen| seen == id) {
                return Err(format!("GPU device id {id:?} is listed twice in {s:?}"));
            }
            ids.push(id.to_string());
        }
        Ok(GpuSetting::Ids(ids))
    }
}

impl GpuSetting {
    /// The device ids, asking `nvidia-smi -L` for `auto`.
    pub fn resolve(&self) -> anyhow::Result<Vec<String>> {
        match self {
            GpuSetting::Ids(ids) => Ok(ids.clone()),
            GpuSetting::Auto => {
                let out = std::process::Command::new("nvidia-smi")
                    .arg("-L")
                    .output()
                    .map_err(|e| {
                        anyhow::anyhow!(
                            "--gpus auto: cannot run nvidia-smi ({e}); is the NVIDIA driver \
                             installed? Name the devices (--gpus 0,1) or leave --gpus out for a \
                             worker without GPUs"
                        )
                    })?;
                if !out.status.success() {
                    anyhow::bail!(
                        "--gpus auto: `nvidia-smi -L` failed ({}): {}; name the devices \
                         (--gpus 0,1) or leave --gpus out",
                        out.status,
                        String::from_utf8_lossy(&out.stderr).trim()
                    );
                }
                let text = String::from_utf8(out.stdout).context("nvidia-smi -L: not UTF-8")?;
                let ids = parse_nvidia_smi_list(&text);
                if ids.is_empty() {
                    anyhow::bail!(
                        "--gpus auto: `nvidia-smi -L` lists no GPU; leave --gpus out for a \
                         worker without GPUs"
                    );
                }
                Ok(ids)
            }
        }
    }
}

/// The device ids in `nvidia-smi -L` output, as `CUDA_VISIBLE_DEVICES`
/// takes them: a GPU's index (`GPU 0: …`), or, for a GPU split into MIG
/// instances, the `MIG-…` UUID of each instance (CUDA addresses MIG
/// devices only by UUID).
pub fn parse_nvidia_smi_list(text: &str) -> Vec<String> {
    let mut ids = Vec::new();
    // The index of the last GPU line, until a MIG line replaces it.
    let mut pending_gpu: Option<String> = None;
    for line in text.lines() {
        let trimmed = line.trim_start();
        if let Some(rest) = trimmed.strip_prefix("GPU ") {
            if let Some(gpu) = pending_gpu.take() {
                ids.push(gpu);
            }
            if let Some((index, _)) = rest.split_once(':')
                && !index.is_empty()
                && index.chars().all(|c| c.is_ascii_digit())
            {
                pending_gpu = Some(index.to_string());
            }
        } else if trimmed.starts_with("MIG ")
            && let Some(start) = trimmed.find("UUID: ")
        {
            let uuid = &trimmed[start + "UUID: ".len()..];
            let uuid = uuid.trim_end().trim_end_matches(')');
            if !uuid.is_empty() {
                // Its GPU is split: the GPU itself is not a device.
                pending_gpu = None;
                ids.push(uuid.to_string());
            }
        }
    }
    if let Some(gpu) = pending_gpu {
        ids.push(gpu);
    }
    ids
}

/// What the worker has and what is free of it.
#[derive(Debug)]
struct Pool {
    free_gpus: Vec<String>,
    free_cpus: u32,
}

/// A worker's GPUs and CPUs, shared by the claim loop and its job tasks.
#[derive(Debug, Clone)]
pub struct Resources {
    /// Device ids in the order the worker announced them.
    all_gpus: Arc<Vec<String>>,
    total_cpus: u32,
    pool: Arc<Mutex<Pool>>,
}

impl Resources {
    pub fn new(gpus: Vec<String>, cpus: u32) -> Self {
        Resources {
            pool: Arc::new(Mutex::new(Pool {
                free_gpus: gpus.clone(),
                free_cpus: cpus,
            })),
            all_gpus: Arc::new(gpus),
            total_cpus: cpus,
        }
    }

    fn pool(&self) -> std::sync::MutexGuard<'_, Pool> {
        self.pool.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A claim request offering what is free now.
    pub fn claim_request(&self, worker: &str, free_slots: usize) -> ClaimRequest {
        let pool = self.pool();
        ClaimRequest {
            worker: worker.to_string(),
            free_gpu_ids: Some(pool.free_gpus.clone()),
            free_cpus: Some(pool.free_cpus),
            free_slots: Some(u32::try_from(free_slots).unwrap_or(u32::MAX)),
            total_gpus: Some(u32::try_from(self.all_gpus.len()).unwrap_or(u32::MAX)),
            total_cpus: Some(self.total_cpus),
            max_jobs: None,
        }
    }

    /// Takes the devices and CPUs the api gave `job` out of the pool until
    /// the grant is dropped. An id that is not free (which the api never
    /// hands out) is left out rather than shared.
    pub fn take(&self, job: &Job) -> Grant {
        let mut pool = self.pool();
        let mut gpus = Vec::new();
        for id in job.gpu_ids.iter().flatten() {
            if let Some(at) = pool.free_gpus.iter().position(|free| free == id) {
                gpus.push(pool.free_gpus.remove(at));
            } else {
                tracing::error!(job = %job.id, device = %id, "the API gave a job a GPU that is not free here");
            }
        }
        let cpus = job.cpus.min(pool.free_cpus);
        pool.free_cpus -= cpus;
        Grant {
            resources: self.clone(),
            gpus,
            cpus,
        }
    }
}

/// The devices and CPUs one running job holds; given back on drop.
#[derive(Debug)]
pub struct Grant {
    resources: Resources,
    gpus: Vec<String>,
    cpus: u32,
}

impl Drop for Grant {
    fn drop(&mut self) {
        let mut pool = self.resources.pool();
        pool.free_cpus += self.cpus;
        pool.free_gpus.append(&mut self.gpus);
        // Hand devices out in the announced order again.
        let order = &self.resources.all_gpus;
        pool.free_gpus
            .sort_by_key(|id| order.iter().position(|o| o == id).unwrap_or(usize::MAX));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ONE: &str =
        "GPU 0: NVIDIA GeForce RTX 3090 (UUID: GPU-6f9ad3a2-0c84-8d1b-5f0e-3b7c2f1b9a11)\n";

    const EIGHT: &str = "\
GPU 0: NVIDIA A100-SXM4-80GB (UUID: GPU-0d2d7d5b-3c1e-4f0e-8a9e-1a2b3c4d5e60)
GPU 1: NVIDIA A100-SXM4-80GB (UUID: GPU-0d2d7d5b-3c1e-4f0e-8a9e-1a2b3c4d5e61)
GPU 2: NVIDIA A100-SXM4-80GB (UUID: GPU-0d2d7d5b-3c1e-4f0e-8a9e-1a2b3c4d5e62)
GPU 3: NVIDIA A100-SXM4-80GB (UUID: GPU-0d2d7d5b-3c1e-4f0e-8a9e-1a2b3c4d5e63)
GPU 4: NVIDIA A100-SXM4-80GB (UUID: GPU-0d2d7d5b-3c1e-4f0e-8a9e-1a2b3c4d5e64)
GPU 5: NVIDIA A100-SXM4-80GB (UUID: GPU-0d2d7d5b-3c1e-4f0e-8a9e-1a2b3c4d5e65)
GPU 6: NVIDIA A100-SXM4-80GB (UUID: GPU-0d2d7d5b-3c1e-4f0e-8a9e-1a2b3c4d5e66)
GPU 7: NVIDIA A100-SXM4-80GB (UUID: GPU-0d2d7d5b-3c1e-4f0e-8a9e-1a2b3c4d5e67)
";

    /// GPU 0 split into two MIG instances, GPU 1 whole.
    const MIG: &str = "\
GPU 0: NVIDIA A100-SXM4-40GB (UUID: GPU-5d5ba0d6-d33d-2b2c-524d-9e3d8d2b8a8c)
  MIG 3g.20gb     Device  0: (UUID: MIG-c6d4f1ef-42e4-5de3-91c7-45d71c87eb3f)
  MIG 3g.20gb     Device  1: (UUID: MIG-cba663e8-9bed-5b25-b243-5985ef7c9beb)
GPU 1: NVIDIA A100-SXM4-40GB (UUID: GPU-7c6ad0e1-1d7e-4c1f-9b0a-2f3e4d5c6b7a)
";

    #[test]
    fn nvidia_smi_with_one_gpu() {
        assert_eq!(parse_nvidia_smi_list(ONE), ["0"]);
    }

    #[test]
    fn nvidia_smi_with_eight_gpus() {
        assert_eq!(
            parse_nvidia_smi_list(EIGHT),
            ["0", "1", "2", "3", "4", "5", "6", "7"]
        );
    }

    #[test]
    fn nvidia_smi_with_mig_devices_lists_their_uuids() {
        assert_eq!(
            parse_nvidia_smi_list(MIG),
            [
                "MIG-c6d4f1ef-42e4-5de3-91c7-45d71c87eb3f",
                "MIG-cba663e8-9bed-5b25-b243-5985ef7c9beb",
                "1"
            ]
        );
    }

    #[test]
    fn nvidia_smi_noise_lists_nothing() {
        assert!(parse_nvidia_smi_list("").is_empty());
        assert!(parse_nvidia_smi_list("No devices found.\n").is_empty());
    }

    #[test]
    fn gpu_flag_parses_lists_auto_and_none() {
        let ids = |v: &[&str]| GpuSetting::Ids(v.iter().map(|s| s.to_string()).collect());
        assert_eq!("0,1, 2".parse(), Ok(ids(&["0", "1", "2"])));
        assert_eq!("auto".parse(), Ok(GpuSetting::Auto));
        assert_eq!("none".parse(), Ok(ids(&[])));
        assert!("0,,1".parse::<GpuSetting>().is_err());
        assert!("0,0".parse::<GpuSetting>().is_err());
        assert!("0;rm".parse::<GpuSetting>().is_err());
    }

    #[test]
    fn a_grant_gives_its_devices_back_in_order() {
        let res = Resources::new(vec!["0".into(), "1".into(), "2".into()], 4);
        let mut job: Job = serde_json::from_value(serde_json::json!({
            "id": "67e55044-10b1-426f-9247-bb680e5fe0c8", "name": null, "owner": "o",
            "command": ["true"], "cwd": null, "env": {}, "timeout_seconds": null,
            "status": "running", "exit_code": null, "failure_reason": null, "worker": "w",
            "created_at": "2026-01-01T00:00:00Z", "started_at": null, "finished_at": null,
            "gpus": 2, "cpus": 3, "gpu_ids": ["0", "2"]
        }))
        .unwrap();
        let grant = res.take(&job);
        let offer = res.claim_request("w", 1);
        assert_eq!(offer.free_gpu_ids, Some(vec!["1".to_string()]));
        assert_eq!(offer.free_cpus, Some(1));
        job.gpu_ids = Some(vec!["1".into()]);
        job.cpus = 1;
        let second = res.take(&job);
        drop(grant);
        assert_eq!(
            res.claim_request("w", 1).free_gpu_ids,
            Some(vec!["0".to_string(), "2".to_string()])
        );
        drop(second);
        let offer = res.claim_request("w", 1);
        assert_eq!(offer.free_gpu_ids.unwrap(), ["0", "1", "2"]);
        assert_eq!(offer.free_cpus, Some(4));
    }
}
