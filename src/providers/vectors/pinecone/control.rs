//! Pinecone's control plane: the index of each embedding space, created on first use and
//! waited for until Ready, and the hosts of every index this deployment has.

use super::{PineconeStore, VectorError};
use serde::Deserialize;
use serde_json::json;
use std::time::Instant;

/// `{prefix}-{space}` within Pinecone's rules: 1–45 characters of lowercase letters, digits
/// and `-`, starting and ending alphanumeric. Long names keep a hash so they stay distinct.
pub fn index_name(prefix: &str, embedder: &str) -> String {
    let raw = format!("{prefix}-{embedder}").to_lowercase();
    let mut name = String::new();
    for c in raw.chars() {
        let c = if c.is_ascii_alphanumeric() { c } else { '-' };
        if !(c == '-' && name.ends_with('-')) {
            name.push(c);
        }
    }
    let name = name.trim_matches('-').to_owned();
    if name.len() <= 45 {
        return name;
    }
    use sha2::Digest;
    let hash = hex::encode(&sha2::Sha256::digest(raw.as_bytes())[..4]);
    format!("{}-{hash}", name[..36].trim_end_matches('-'))
}

#[derive(Deserialize)]
struct IndexModel {
    name: String,
    #[serde(default)]
    host: String,
    #[serde(default)]
    status: IndexStatus,
}

#[derive(Deserialize, Default)]
struct IndexStatus {
    #[serde(default)]
    ready: bool,
    #[serde(default)]
    state: String,
}

impl PineconeStore {
    /// The data-plane host of the index for `embedder`; with `create`, the index is made
    /// (with that dimension) when missing and waited for until Ready.
    pub(super) async fn host(&self, embedder: &str, create: Option<usize>) -> Result<Option<String>, VectorError> {
        let name = index_name(&self.config.index_prefix, embedder);
        if let Some(host) = self.hosts.lock().unwrap().get(&name) {
            return Ok(Some(host.clone()));
        }
        let url = format!("{}/indexes/{name}", self.config.control_url.trim_end_matches('/'));
        let started = Instant::now();
        let mut created = false;
        loop {
            let reply = self.send(reqwest::Method::GET, &url, None, &[404]).await?;
            if reply.status == 404 {
                let Some(dimension) = create else { return Ok(None) };
                if created {
                    return Err(VectorError::Transient(format!("Pinecone index {name} vanished while being created")));
                }
                let body = json!({
                    "name": name, "dimension": dimension, "metric": "cosine",
                    "spec": {"serverless": {"cloud": self.config.cloud, "region": self.config.region}},
                    "deletion_protection": "disabled", "tags": {"app": "chatsphere"},
                });
                let indexes = format!("{}/indexes", self.config.control_url.trim_end_matches('/'));
                // 409: another server process created it first; either way we wait for Ready.
                self.send(reqwest::Method::POST, &indexes, Some(&body), &[409]).await?;
                tracing::info!(index = %name, dimension, "Pinecone index created");
                created = true;
                continue;
            }
            let index: IndexModel = serde_json::from_str(&reply.body).map_err(|e| VectorError::Transient(format!("Pinecone describe-index: {e}")))?;
            if index.status.ready && !index.host.is_empty() {
                self.hosts.lock().unwrap().insert(index.name, index.host.clone());
                return Ok(Some(index.host));
            }
            if index.status.state == "InitializationFailed" || index.status.state == "Terminating" {
                return Err(VectorError::Permanent(format!("Pinecone index {name} is {}", index.status.state)));
            }
            if started.elapsed() > self.config.ready_timeout {
                return Err(VectorError::Transient(format!("Pinecone index {name} is still {} after {:?}", index.status.state, self.config.ready_timeout)));
            }
            tokio::time::sleep(self.config.poll).await;
        }
    }

    /// Hosts of every index this deployment has (all embedding spaces), for deletions.
    pub(super) async fn all_hosts(&self) -> Result<Vec<String>, VectorError> {
        let url = format!("{}/indexes", self.config.control_url.trim_end_matches('/'));
        let reply = self.send(reqwest::Method::GET, &url, None, &[]).await?;
        #[derive(Deserialize)]
        struct Indexes {
            #[serde(default)]
            indexes: Vec<IndexModel>,
        }
        let list: Indexes = serde_json::from_str(&reply.body).map_err(|e| VectorError::Transient(format!("Pinecone list-indexes: {e}")))?;
        let prefix = format!("{}-", self.config.index_prefix);
        Ok(list.indexes.into_iter().filter(|i| i.name.starts_with(&prefix) && !i.host.is_empty()).map(|i| i.host).collect())
    }
}
