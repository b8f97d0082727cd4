//! The AWS clients of the running flows: one set per distinct effective setting (`[aws]` with
//! a flow's `[flow.aws]`), so flows to the same region and account share connections and
//! credential caches, and a flow assuming a role gets its own.

use crate::config::{AwsSettings, Config, Flow};
use crate::sink::aws::{AwsClients, AwsSetupError};

/// A flow whose AWS settings cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("flow {flow:?}: {source}")]
pub struct FlowAwsError {
    pub flow: String,
    pub source: AwsSetupError,
}

#[derive(Default)]
pub struct ClientPool {
    entries: Vec<(AwsSettings, AwsClients)>,
}

impl ClientPool {
    /// Clients for every flow of `config`, reusing this pool's where the settings are the same
    /// (their credential caches stay warm across a reload). Nothing is replaced on an error.
    pub async fn for_config(&self, config: &Config) -> Result<ClientPool, FlowAwsError> {
        let mut pool = ClientPool::default();
        for flow in config.flows.iter().flat_map(Flow::destinations) {
            let settings = flow.aws_settings(&config.aws);
            if pool.find(&settings).is_some() {
                continue;
            }
            let clients = self
                .reuse_or_load(&settings)
                .await
                .map_err(|source| FlowAwsError {
                    flow: flow.name.clone(),
                    source,
                })?;
            pool.entries.push((settings, clients));
        }
        Ok(pool)
    }

    /// The clients of `flow`, from a pool made by [`ClientPool::for_config`] of its config.
    pub fn for_flow(&self, flow: &Flow, global: &AwsSettings) -> &AwsClients {
        self.find(&flow.aws_settings(global))
            .expect("the pool was made for this config")
    }

    fn find(&self, settings: &AwsSettings) -> Option<&AwsClients> {
        self.entries
            .iter()
            .find(|(known, _)| known == settings)
            .map(|(_, clients)| clients)
    }

    async fn reuse_or_load(&self, settings: &AwsSettings) -> Result<AwsClients, AwsSetupError> {
        match self.find(settings) {
            Some(clients) => Ok(clients.clone()),
            None => AwsClients::load(settings).await,
        }
    }
}
