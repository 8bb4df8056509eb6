//! `scripts/deploy.sh` and `scripts/health-check.sh`: Nomad cannot express startup order, so
//! the deploy script submits the jobs phase by phase (REGISTRY.md "Phases") and waits, within
//! each phase's timeout, until every job of the phase is healthy (service and system jobs:
//! latest deployment successful and every allocation running and healthy) or complete (batch
//! jobs); it stops at the first failure with a non-zero exit. The health check judges every
//! job the same way and exits 0 (healthy), 1 (degraded) or 2 (a critical job is down), as
//! `muster health` does.
//!
//! Shell scripts are text by nature; the data they carry (names, phases, counts) is quoted
//! with [`quote`]. They read the state from `nomad job allocs -t` and `nomad job deployments
//! -t` (Go templates, so no `jq` is needed).

use std::sync::Arc;

use crate::graph::{Closure, DepGraph, Reason};
use crate::registry::model::Service;

use super::Context;
use super::job::Kind;
use super::task::has_secrets;

/// Functions both scripts share: the state of a job.
const STATE_FUNCTIONS: &str = r#"# Allocations that should run, as CLIENT_STATUS/HEALTHY (HEALTHY empty while unknown).
allocs() {
  nomad job allocs -namespace "$namespace" \
    -t '{{ range . }}{{ if eq .DesiredStatus "run" }}{{ .ClientStatus }}/{{ with .DeploymentStatus }}{{ with .Healthy }}{{ . }}{{ end }}{{ end }} {{ end }}{{ end }}' \
    "$1" 2>/dev/null || true
}

# The status of a job's latest deployment, empty when it has none.
deployment() {
  nomad job deployments -namespace "$namespace" -latest -t '{{ .Status }}' "$1" 2>/dev/null || true
}

# state JOB KIND COUNT: prints healthy, pending or failed.
state() {
  local job=$1 kind=$2 count=$3 ok=0 total=0 alloc
  if [ "$kind" = service ]; then
    case $(deployment "$job") in
      failed | cancelled) echo failed; return ;;
      successful | '') ;;
      *) echo pending; return ;;
    esac
  fi
  for alloc in $(allocs "$job"); do
    total=$((total + 1))
    case $kind:$alloc in
      *:failed/* | *:lost/* | */false) echo failed; return ;;
      batch:complete/* | service:running/true | system:running/true | system:running/) ok=$((ok + 1)) ;;
    esac
  done
  if [ "$total" -gt 0 ] && [ "$ok" -eq "$total" ] && { [ "$kind" = system ] || [ "$ok" -ge "$count" ]; }; then
    echo healthy
  else
    echo pending
  fi
}
"#;

/// The deploy script's own functions.
const DEPLOY_FUNCTIONS: &str = r#"die() {
  echo "deploy.sh: $*" >&2
  exit 1
}

# The registry's .env as NOMAD_VAR_<NAME>, for variables the jobs declare and the shell
# does not set already. Values are taken as written (surrounding quotes removed), never run.
load_env() {
  [ -f "$env_file" ] || return 0
  local line key value target
  while IFS= read -r line || [ -n "$line" ]; do
    line=${line%$'\r'}
    case $line in '' | '#'*) continue ;; esac
    line=${line#export }
    key=${line%%=*}
    [ "$key" != "$line" ] || continue
    case " $variables " in *" $key "*) ;; *) continue ;; esac
    target=NOMAD_VAR_$key
    [ -z "${!target+set}" ] || continue
    value=${line#*=}
    case $value in
      \"*\") value=${value#\"}; value=${value%\"} ;;
      \'*\') value=${value#\'}; value=${value%\'} ;;
    esac
    export "$target=$value"
  done <"$env_file"
}

acl_enabled() {
  nomad acl policy list >/dev/null 2>&1
}

# A generated file: the environment's version when it has one, else the base's.
pick() {
  if [ -f "$env_dir/$1" ]; then echo "$env_dir/$1"; else echo "$nomad_dir/$1"; fi
}

# submit SERVICE JOB SECRETS: loads the job's secrets and policy, then submits it.
submit() {
  local service=$1 job=$2 secrets=$3
  local vars="$runtime_dir/$service.vars.json"
  if [ -f "$vars" ]; then
    nomad var put -namespace "$namespace" -in json -force "nomad/jobs/$stack/$service" "@$vars" >/dev/null
  elif [ "$secrets" = yes ]; then
    die "$service reads secrets from Nomad Variables, but $vars is missing: run \`muster secrets export nomad\` first"
  fi
  if [ "$acl" = yes ]; then
    nomad acl policy apply -namespace "$namespace" -job "$job" \
      "$job-variables" "$(pick "policies/$service.policy.hcl")" >/dev/null
  fi
  echo "  submit $job"
  nomad job run -detach "$(pick "jobs/$service.nomad.hcl")" >/dev/null
}

# phase NAME TIMEOUT_SECONDS 'SERVICE JOB KIND COUNT SECRETS'...: submits the phase's jobs,
# then waits until each is healthy (or complete), failing at the first failure or at the
# deadline.
phase() {
  local name=$1 timeout=$2 entry service job kind count secrets state deadline
  shift 2
  echo "phase $name (timeout ${timeout}s)"
  for entry in "$@"; do
    read -r service job kind count secrets <<<"$entry"
    submit "$service" "$job" "$secrets"
  done
  deadline=$((SECONDS + timeout))
  for entry in "$@"; do
    read -r service job kind count secrets <<<"$entry"
    while :; do
      state=$(state "$job" "$kind" "$count")
      case $state in
        healthy) echo "  $job $([ "$kind" = batch ] && echo complete || echo healthy)"; break ;;
        failed)
          nomad job status -namespace "$namespace" "$job" >&2 || true
          die "$job failed in phase $name"
          ;;
      esac
      if [ "$SECONDS" -ge "$deadline" ]; then
        nomad job status -namespace "$namespace" "$job" >&2 || true
        die "$job is not healthy after ${timeout}s (phase $name)"
      fi
      sleep 2
    done
  done
}
"#;

/// The health check's own function.
const HEALTH_FUNCTIONS: &str = r#"status=0
# judge SERVICE JOB KIND COUNT CRITICAL
judge() {
  local service=$1 job=$2 kind=$3 count=$4 critical=$5 state
  state=$(state "$job" "$kind" "$count")
  printf '%-24s %-8s %s\n' "$service" "$kind" "$state"
  if [ "$state" != healthy ]; then
    if [ "$critical" = yes ]; then
      status=2
    elif [ "$status" -eq 0 ]; then
      status=1
    fi
  fi
}
"#;

/// A word for the shell, single-quoted unless it is plainly safe.
pub fn quote(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '/' | ':'));
    if plain {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// The phases of every enabled service, in start order.
fn phases<'r>(ctx: &Context<'r>) -> Vec<(String, u64, Vec<&'r Service>)> {
    let graph = DepGraph::new(ctx.reg);
    let closure = Closure {
        services: ctx
            .reg
            .enabled_services()
            .map(|s| (s.name.value.clone(), Reason::Selected("all".into())))
            .collect(),
    };
    graph
        .plan(&closure)
        .phases
        .into_iter()
        .map(|p| {
            let services = p
                .services
                .iter()
                .filter_map(|name| ctx.reg.services.get(name).map(Arc::as_ref))
                .collect();
            (p.name, p.timeout.as_secs().max(1), services)
        })
        .collect()
}

/// `SERVICE JOB KIND COUNT` for a service.
fn entry(ctx: &Context, s: &Service) -> String {
    let kind = Kind::of(s);
    let count = if kind == Kind::System {
        1
    } else {
        s.replica_count()
    };
    format!(
        "{} {} {} {count}",
        s.name.value,
        ctx.job_id(&s.name.value),
        kind.as_str()
    )
}

/// What both scripts start with.
fn preamble(ctx: &Context, environment: Option<&str>, what: &str, out: &mut String) {
    out.push_str("#!/usr/bin/env bash\n");
    out.push_str(what);
    if let Some(env) = environment {
        out.push_str(&format!("# Environment: {env}.\n"));
    }
    out.push_str("set -euo pipefail\n\n");
    out.push_str(&format!("namespace={}\n", quote(&ctx.namespace())));
    out.push_str(
        "command -v nomad >/dev/null 2>&1 || { echo \"nomad is not installed (or not in PATH)\" >&2; exit 2; }\n",
    );
}

/// Where the deploy script finds its files. An environment's scripts live in
/// `environments/<env>/scripts/` and take each file from the environment's folder when it has
/// one (see `pick`).
fn locations(environment: Option<&str>, out: &mut String) {
    out.push_str("here=$(cd \"$(dirname \"${BASH_SOURCE[0]}\")\" && pwd)\n");
    out.push_str("env_dir=$(dirname \"$here\")\n");
    if environment.is_some() {
        out.push_str("nomad_dir=$(dirname \"$(dirname \"$env_dir\")\")\n");
    } else {
        out.push_str("nomad_dir=$env_dir\n");
    }
}

/// `scripts/deploy.sh`.
pub fn deploy(ctx: &Context, environment: Option<&str>, variables: &[String]) -> String {
    let mut out = String::new();
    preamble(
        ctx,
        environment,
        "# Deploys the stack to Nomad phase by phase, waiting until each phase is healthy.\n\
         # Uses NOMAD_ADDR and NOMAD_TOKEN as the nomad CLI does. Job variables come from\n\
         # NOMAD_VAR_<NAME>, else from the registry's .env. Run `muster secrets export nomad`\n\
         # first: this script loads each service's secrets into its Nomad variable.\n\
         # MUSTER_SKIP_TRAEFIK=1 leaves out the Traefik job of infra/.\n",
        &mut out,
    );
    locations(environment, &mut out);
    let depth = if environment.is_some() { 4 } else { 2 };
    let back = match ctx.back_to_registry(depth) {
        Some(back) => format!("$here/{back}"),
        None => "$PWD".to_string(),
    };
    out.push_str(&format!("registry_dir=${{MUSTER_REGISTRY_DIR:-{back}}}\n"));
    out.push_str(&format!("stack={}\n", quote(&ctx.reg.name.value)));
    out.push_str("runtime_dir=${MUSTER_NOMAD_RUNTIME:-$registry_dir/.muster/runtime/nomad}\n");
    out.push_str("env_file=${MUSTER_ENV_FILE:-$registry_dir/.env}\n");
    out.push_str(&format!("variables={}\n", quote(&variables.join(" "))));
    out.push_str(&format!(
        "traefik={}\n\n",
        quote(&format!("{}-traefik", ctx.reg.name.value))
    ));
    out.push_str(STATE_FUNCTIONS);
    out.push('\n');
    out.push_str(DEPLOY_FUNCTIONS);
    out.push('\n');
    out.push_str("load_env\nacl=no\nif acl_enabled; then acl=yes; fi\n\n");
    out.push_str("if [ \"${MUSTER_SKIP_TRAEFIK:-0}\" != 1 ]; then\n");
    out.push_str("  echo \"infra: submit $traefik\"\n");
    out.push_str("  nomad job run -detach \"$(pick infra/traefik.nomad.hcl)\" >/dev/null\n");
    out.push_str("fi\n");
    for (name, timeout, services) in phases(ctx) {
        out.push_str(&format!("phase {} {timeout}", quote(&name)));
        for s in services {
            let secrets = if has_secrets(s) { "yes" } else { "no" };
            out.push_str(&format!(" \\\n  '{} {secrets}'", entry(ctx, s)));
        }
        out.push('\n');
    }
    out.push_str("echo \"deployed: every phase is healthy\"\n");
    out
}

/// `scripts/health-check.sh`.
pub fn health_check(ctx: &Context, environment: Option<&str>) -> String {
    let mut out = String::new();
    preamble(
        ctx,
        environment,
        "# Judges every job of the stack on Nomad: exit 0 when all are healthy (batch jobs:\n\
         # complete), 1 when some are not, 2 when a critical one is not.\n",
        &mut out,
    );
    out.push('\n');
    out.push_str(STATE_FUNCTIONS);
    out.push('\n');
    out.push_str(HEALTH_FUNCTIONS);
    out.push('\n');
    for (_, _, services) in phases(ctx) {
        for s in services {
            let critical = if s.critical { "yes" } else { "no" };
            let words: Vec<String> = entry(ctx, s).split(' ').map(quote).collect();
            out.push_str(&format!("judge {} {critical}\n", words.join(" ")));
        }
    }
    out.push_str("exit \"$status\"\n");
    out
}

#[cfg(test)]
mod tests {
    use super::quote;

    #[test]
    fn quoting() {
        assert_eq!(quote("api-1"), "api-1");
        assert_eq!(quote(""), "''");
        assert_eq!(quote("a b"), "'a b'");
        assert_eq!(quote("it's"), r"'it'\''s'");
    }
}
