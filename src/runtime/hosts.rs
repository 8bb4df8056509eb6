//! Several Dockers as one: the local engine (`DOCKER_HOST`, else the local socket) and each
//! endpoint of `engines.compose.hosts` that a service's `placement.host` names. Containers
//! are found on whichever engine holds them; lists and events are merged. The phase runner,
//! `status` and `down` work on this as on any [`Engine`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use futures_util::stream::BoxStream;

use super::docker::{
    self, Container, DockerEngine, DockerError, Engine, Event, Inspection, LogLine,
};
use crate::registry::model::Registry;

#[derive(Clone)]
pub struct Hosts {
    /// The local engine first, then one per remote host (by name).
    engines: Arc<Vec<(Option<String>, DockerEngine)>>,
    /// Which engine holds a container, as learnt from lists and events.
    owner: Arc<Mutex<HashMap<String, usize>>>,
}

/// The host a service is placed on (None: the local engine).
pub fn host_of<'r>(reg: &'r Registry, service: &str) -> Option<&'r str> {
    reg.services
        .get(service)?
        .placement
        .host
        .as_ref()
        .map(|h| h.value.as_str())
}

/// The endpoint of a named host.
pub fn endpoint<'r>(reg: &'r Registry, host: &str) -> Option<&'r str> {
    reg.engines
        .compose
        .hosts
        .get(host)
        .map(|e| e.value.as_str())
}

impl Hosts {
    /// Connects to the local engine and to every host that an enabled service is placed on.
    pub async fn connect(reg: &Registry) -> docker::Result<Hosts> {
        let mut engines = vec![(None, DockerEngine::connect(None).await?)];
        let mut names: Vec<&str> = reg
            .enabled_services()
            .filter_map(|s| s.placement.host.as_ref().map(|h| h.value.as_str()))
            .collect();
        names.sort();
        names.dedup();
        for name in names {
            let Some(url) = endpoint(reg, name) else {
                continue;
            };
            let engine = DockerEngine::connect(Some(url))
                .await
                .map_err(|e| match e {
                    DockerError::Unreachable { endpoint, message } => DockerError::Unreachable {
                        endpoint: format!("{endpoint} (host `{name}`)"),
                        message,
                    },
                    other => other,
                })?;
            engines.push((Some(name.to_string()), engine));
        }
        Ok(Hosts {
            engines: Arc::new(engines),
            owner: Arc::new(Mutex::new(HashMap::new())),
        })
    }

    /// What the Compose CLI is given as `DOCKER_HOST` for services placed on `host` (None: the
    /// local engine, or a host not connected).
    pub fn docker_host(&self, host: &str) -> Option<String> {
        self.engines
            .iter()
            .find(|(name, _)| name.as_deref() == Some(host))
            .map(|(_, engine)| engine.docker_host().to_string())
    }

    /// Whether more than the local engine is involved.
    pub fn is_multi(&self) -> bool {
        self.engines.len() > 1
    }

    fn engine_for(&self, id: &str) -> Option<&DockerEngine> {
        let i = *self.owner.lock().expect("owner map").get(id)?;
        self.engines.get(i).map(|(_, e)| e)
    }

    fn local(&self) -> &DockerEngine {
        &self.engines[0].1
    }

    fn learn(&self, id: &str, index: usize) {
        self.owner
            .lock()
            .expect("owner map")
            .insert(id.to_string(), index);
    }
}

impl Engine for Hosts {
    fn endpoint(&self) -> String {
        self.engines
            .iter()
            .map(|(_, e)| e.endpoint())
            .collect::<Vec<_>>()
            .join(", ")
    }

    async fn list(&self, project: &str) -> docker::Result<Vec<Container>> {
        let lists =
            futures_util::future::join_all(self.engines.iter().map(|(_, e)| e.list(project))).await;
        let mut all = Vec::new();
        for (i, list) in lists.into_iter().enumerate() {
            for c in list? {
                self.learn(&c.id, i);
                all.push(c);
            }
        }
        Ok(all)
    }

    async fn inspect(&self, id: &str) -> docker::Result<Inspection> {
        if let Some(e) = self.engine_for(id) {
            return e.inspect(id).await;
        }
        for (i, (_, e)) in self.engines.iter().enumerate() {
            match e.inspect(id).await {
                Ok(c) => {
                    self.learn(id, i);
                    return Ok(c);
                }
                Err(DockerError::NotFound(_)) => continue,
                Err(other) => return Err(other),
            }
        }
        Err(DockerError::NotFound(id.to_string()))
    }

    async fn start(&self, id: &str) -> docker::Result<()> {
        self.engine_for(id).unwrap_or(self.local()).start(id).await
    }

    async fn stop(&self, id: &str, grace: Duration) -> docker::Result<()> {
        self.engine_for(id)
            .unwrap_or(self.local())
            .stop(id, grace)
            .await
    }

    async fn remove(&self, id: &str) -> docker::Result<()> {
        self.engine_for(id).unwrap_or(self.local()).remove(id).await
    }

    fn events(&self, project: &str, since_nanos: i64) -> BoxStream<'static, docker::Result<Event>> {
        let streams = self.engines.iter().enumerate().map(|(i, (_, e))| {
            let me = self.clone();
            e.events(project, since_nanos)
                .map(move |ev| {
                    if let Ok(ev) = &ev {
                        me.learn(&ev.container, i);
                    }
                    ev
                })
                .boxed()
        });
        futures_util::stream::select_all(streams).boxed()
    }

    fn logs(
        &self,
        id: &str,
        tail: Option<usize>,
        follow: bool,
    ) -> BoxStream<'static, docker::Result<LogLine>> {
        self.engine_for(id)
            .unwrap_or(self.local())
            .logs(id, tail, follow)
    }

    async fn run_oneoff(&self, image: &str, script: &str) -> docker::Result<(i64, String)> {
        self.local().run_oneoff(image, script).await
    }

    async fn volumes(&self, project: &str) -> docker::Result<Vec<String>> {
        let mut all = Vec::new();
        for (_, e) in self.engines.iter() {
            all.extend(e.volumes(project).await?);
        }
        all.sort();
        all.dedup();
        Ok(all)
    }

    async fn remove_volume(&self, name: &str) -> docker::Result<()> {
        // The same name may exist on several hosts: remove it wherever it is.
        let mut removed = false;
        let mut failure = None;
        for (_, e) in self.engines.iter() {
            match e.remove_volume(name).await {
                Ok(()) => removed = true,
                Err(err) if err.to_string().contains("no such volume") => {}
                Err(err) => failure = Some(err),
            }
        }
        match (failure, removed) {
            (Some(err), _) => Err(err),
            (None, true) => Ok(()),
            (None, false) => Err(DockerError::NotFound(name.to_string())),
        }
    }

    async fn networks(&self, project: &str) -> docker::Result<Vec<String>> {
        let mut all = Vec::new();
        for (_, e) in self.engines.iter() {
            all.extend(e.networks(project).await?);
        }
        all.sort();
        all.dedup();
        Ok(all)
    }

    async fn remove_network(&self, name: &str) -> docker::Result<()> {
        let mut result = Ok(());
        for (_, e) in self.engines.iter() {
            if let Err(err) = e.remove_network(name).await
                && !err.to_string().contains("not found")
            {
                result = Err(err);
            }
        }
        result
    }
}
