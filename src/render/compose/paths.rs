//! Where things are, seen from the generated Compose files.
//!
//! Relative paths in the registry are relative to the folder of `muster.yaml`. Every Compose
//! file muster writes uses paths relative to `<output>/compose/` instead: `stack.yml` lives
//! there, `docker-compose.yml` includes the other files with `project_directory: .`, and an
//! override file given after it with `-f` resolves paths against that same project folder. So
//! one prefix (`../../` for the default `output: deploy`) leads back to the registry folder.

/// Runtime files that `muster secrets export ENGINE` writes, relative to the registry folder:
/// one folder per engine under it.
pub const RUNTIME_ROOT: &str = ".muster/runtime";
/// Config templates rendered at `up`, relative to the registry folder.
pub const RENDERED_DIR: &str = ".muster/rendered";

/// The env file holding the values of `service`'s secret-bearing variables, relative to the
/// registry folder: `.muster/runtime/<engine>/<service>.env` (`compose`, or `swarm`, whose
/// stack files share the Compose service model).
pub fn runtime_env_file(engine: &str, service: &str) -> String {
    format!("{RUNTIME_ROOT}/{engine}/{service}.env")
}

/// The file a Compose (or Swarm) secret is read from, relative to the registry folder:
/// `.muster/runtime/<engine>/secrets/<name>`.
pub fn secret_file(engine: &str, name: &str) -> String {
    format!("{RUNTIME_ROOT}/{engine}/secrets/{name}")
}

/// Where `up` renders the config template `template` of `service`, relative to the registry
/// folder: `.muster/rendered/<service>/<file name of the template>`, as
/// `secrets::configs::render_configs` writes it (it refuses two templates of one service with
/// the same file name).
pub fn rendered_config(service: &str, template: &str) -> String {
    let file_name = template
        .rsplit('/')
        .find(|part| !part.is_empty() && *part != ".")
        .unwrap_or("config");
    format!("{RENDERED_DIR}/{service}/{file_name}")
}

/// Rewrites registry-relative paths for files in `<output>/compose/`.
#[derive(Debug, Clone)]
pub struct Layout {
    /// From the compose folder back to the registry folder (`../../`); None when `output` is
    /// absolute or leaves the registry folder, where the way back cannot be known without
    /// touching the disk: paths are then written as the registry has them.
    back: Option<String>,
}

impl Layout {
    pub fn new(output: &str) -> Layout {
        let back = if output.starts_with('/') {
            None
        } else {
            let mut depth: usize = 1; // the `compose` folder itself
            let mut escaped = false;
            for part in output.split('/') {
                match part {
                    "" | "." => {}
                    ".." if depth > 1 => depth -= 1,
                    ".." => escaped = true,
                    _ => depth += 1,
                }
            }
            (!escaped).then(|| "../".repeat(depth))
        };
        Layout { back }
    }

    /// `path` (relative to the registry folder unless absolute, `~`, `${VAR}` or a URL) as
    /// seen from the compose folder.
    pub fn path(&self, path: &str) -> String {
        let relative = !(path.starts_with('/')
            || path.starts_with('~')
            || path.starts_with('$')
            || path.contains("://")
            || path.starts_with("git@"));
        match &self.back {
            Some(back) if relative => {
                let mut rest = path;
                while let Some(r) = rest.strip_prefix("./") {
                    rest = r.trim_start_matches('/');
                }
                if rest == "." || rest.is_empty() {
                    back.trim_end_matches('/').to_string()
                } else {
                    format!("{back}{rest}")
                }
            }
            _ => path.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn way_back_to_the_registry() {
        let deploy = Layout::new("deploy");
        assert_eq!(deploy.path("./api"), "../../api");
        assert_eq!(deploy.path("api"), "../../api");
        assert_eq!(deploy.path(".env.postgres"), "../../.env.postgres");
        assert_eq!(deploy.path("./"), "../..");
        assert_eq!(deploy.path("."), "../..");
        assert_eq!(deploy.path("../shared/x"), "../../../shared/x");
        assert_eq!(deploy.path("/srv/data"), "/srv/data");
        assert_eq!(deploy.path("~/data"), "~/data");
        assert_eq!(deploy.path("${DATA_ROOT}/pg"), "${DATA_ROOT}/pg");
        assert_eq!(
            deploy.path("https://github.com/a/b.git"),
            "https://github.com/a/b.git"
        );
        assert_eq!(Layout::new("out/gen/").path("./x"), "../../../x");
        assert_eq!(Layout::new(".").path("./x"), "../x");
        assert_eq!(Layout::new("a/../b").path("./x"), "../../x");
        assert_eq!(Layout::new("../elsewhere").path("./x"), "./x");
        assert_eq!(Layout::new("/abs").path("./x"), "./x");
        assert_eq!(
            rendered_config("caddy", "./caddy/Caddyfile"),
            ".muster/rendered/caddy/Caddyfile"
        );
    }
}
