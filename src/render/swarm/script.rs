//! `deploy.sh`: deploys the stack to Swarm phase by phase and waits, after each phase, until
//! every service of it converged, because Swarm ignores `depends_on`.
//!
//! A service converged when as many tasks run as it wants (Swarm counts a task with a health
//! check as running only once it is healthy) and no rolling update is under way; a job when
//! its latest task completed. A job that failed or was rejected, an update that Swarm paused
//! or rolled back, or a phase still not converged at its timeout ends the script with exit
//! status 1 and, for each service not converged, its latest tasks (with Swarm's error) and
//! its last log lines.
//!
//! The script is POSIX sh (checked by shellcheck in the tests). Shell is the one thing muster
//! writes as text; every value in it is a registry name (letters, digits, `_`, `-`) or a
//! number, and single-quoted anyway.

use std::fmt::Write as _;

/// A service of a phase.
pub struct Member {
    pub name: String,
    pub job: bool,
}

pub struct Phase {
    pub name: String,
    pub timeout_secs: u64,
    /// The phase's stack file, relative to the script's folder.
    pub file: String,
    pub services: Vec<Member>,
}

/// The phases of the base registry (`environment: None`) or of one environment.
pub struct Plan {
    pub environment: Option<String>,
    pub phases: Vec<Phase>,
    /// Whether services read `.muster/runtime/swarm/` (secret env files, secret files).
    pub runtime: bool,
    /// Whether services mount config files rendered into `.muster/rendered/`.
    pub configs: bool,
}

/// A single-quoted shell word.
fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// The script for a stack named `stack`; `root` leads from the script's folder back to the
/// registry folder (`../..`).
pub fn render(stack: &str, root: &str, plans: &[Plan]) -> String {
    let mut out = String::new();
    let envs: Vec<&str> = plans
        .iter()
        .filter_map(|p| p.environment.as_deref())
        .collect();
    out.push_str("#!/bin/sh\n");
    out.push_str(
        "# Deploys the stack to Docker Swarm phase by phase. Swarm ignores depends_on, so phase N is\n\
         # deployed with every earlier phase (docker stack deploy -c phase-01… -c phase-N…) and must\n\
         # converge before the next one: every service running as many tasks as it wants (a task with\n\
         # a health check counts once healthy), every job completed. Exit 1 with a diagnosis when a\n\
         # phase does not converge before its timeout, 2 when it cannot run.\n#\n",
    );
    let _ = writeln!(
        out,
        "# Usage: deploy.sh [ENVIRONMENT]   (environments: {})",
        if envs.is_empty() {
            "none".to_string()
        } else {
            envs.join(", ")
        }
    );
    let _ = writeln!(
        out,
        "#   MUSTER_STACK          stack name (default: {stack})"
    );
    out.push_str("#   MUSTER_RESOLVE_IMAGE  --resolve-image of docker stack deploy: always, changed or never (default: always)\n");
    out.push_str(
        "#   MUSTER_ROOT           the folder of muster.yaml (default: this script's folder/",
    );
    let _ = writeln!(out, "{root})");
    out.push_str("# Variables in the stack files come from MUSTER_ROOT/.env; the environment's own values win.\n");
    out.push_str("set -eu\n\n");
    out.push_str("here=$(CDPATH='' cd -- \"$(dirname -- \"$0\")\" && pwd)\n");
    let _ = writeln!(out, "root=${{MUSTER_ROOT:-$here/{root}}}");
    let _ = writeln!(out, "stack=${{MUSTER_STACK:-{}}}", quote(stack));
    out.push_str("resolve=${MUSTER_RESOLVE_IMAGE:-always}\nenvironment=${1:-}\n\n");

    out.push_str(PLAN_HEADER);
    out.push_str("plan() {\n  case \"$1\" in\n");
    for plan in plans {
        let label = match &plan.environment {
            Some(e) => quote(e),
            None => "''".to_string(),
        };
        let _ = writeln!(out, "    {label})");
        if plan.runtime {
            out.push_str("      needs_runtime=yes\n");
        }
        if plan.configs {
            out.push_str("      needs_configs=yes\n");
        }
        out.push_str("      phases=$(cat <<'EOF'\n");
        for phase in &plan.phases {
            let _ = write!(out, "{} {} {}", phase.name, phase.timeout_secs, phase.file);
            for m in &phase.services {
                let _ = write!(out, " {}{}", m.name, if m.job { ":job" } else { "" });
            }
            out.push('\n');
        }
        out.push_str("EOF\n)\n      ;;\n");
    }
    let _ = writeln!(
        out,
        "    *)\n      echo \"deploy.sh: unknown environment '$1' (known: {})\" >&2\n      exit 2\n      ;;\n  esac\n}}\n",
        if envs.is_empty() {
            "none".to_string()
        } else {
            envs.join(", ")
        }
    );
    out.push_str(BODY);
    out
}

const PLAN_HEADER: &str = "\
needs_runtime=no
needs_configs=no
phases=''

# One line per phase: its name, timeout in seconds, stack file, then its services in start
# order (a job as NAME:job).
";

const BODY: &str = r#"load_env() {
  [ -f "$root/.env" ] || return 0
  while IFS= read -r line || [ -n "$line" ]; do
    case $line in
      '' | '#'*) continue ;;
      *=*) ;;
      *) continue ;;
    esac
    key=${line%%=*}
    key=${key#export }
    value=${line#*=}
    case $key in
      '' | [0-9]* | *[!A-Za-z0-9_]*) continue ;;
    esac
    case $value in
      \"*\") value=${value#\"}; value=${value%\"} ;;
      \'*\') value=${value#\'}; value=${value%\'} ;;
    esac
    if eval "[ -z \"\${$key+set}\" ]"; then
      export "$key=$value"
    fi
  done < "$root/.env"
}

# converged, waiting, or failed: WHY
state_of() {
  name=${1%:job}
  full="${stack}_$name"
  if [ "$name" != "$1" ]; then
    latest=$(docker service ps --format '{{.Name}} {{.DesiredState}} {{.CurrentState}}' "$full" 2>/dev/null |
      awk '!seen[$1]++ { print $2, $3 }') || true
    case $latest in
      '') echo waiting ;;
      *' Failed'* | *' Rejected'*) echo "failed: the job's task $(printf '%s\n' "$latest" | awk '$2 == "Failed" || $2 == "Rejected" { print tolower($2); exit }')" ;;
      *) if printf '%s\n' "$latest" | awk '$2 != "Complete" { bad = 1 } END { exit bad }'; then echo converged; else echo waiting; fi ;;
    esac
    return 0
  fi
  replicas=$(docker service ls --filter "name=$full" --format '{{.Name}} {{.Replicas}}' 2>/dev/null |
    awk -v n="$full" '$1 == n { print $2 }') || true
  update=$(docker service inspect --format '{{if .UpdateStatus}}{{.UpdateStatus.State}}{{end}}' "$full" 2>/dev/null) || true
  case $update in
    paused | rollback_*) echo "failed: its update ended $update"; return 0 ;;
  esac
  if [ -n "$replicas" ] && [ "$update" != updating ] && [ "${replicas%/*}" = "${replicas#*/}" ]; then
    echo converged
  else
    echo waiting
  fi
}

diagnose() {
  for member in "$@"; do
    name=${member%:job}
    full="${stack}_$name"
    echo "  $name: $(state_of "$member")"
    docker service ps --no-trunc --format 'task {{.Name}}: {{.CurrentState}} {{.Error}}' "$full" 2>&1 | head -n 5 | sed 's/^/    /'
    docker service logs --tail 10 --no-task-ids "$full" 2>&1 | sed 's/^/    | /'
  done >&2
}

plan "$environment"
load_env
if [ "$needs_runtime" = yes ] && [ ! -d "$root/.muster/runtime/swarm" ]; then
  echo "deploy.sh: $root/.muster/runtime/swarm is missing; run \`muster secrets export swarm\` first" >&2
  exit 2
fi
if [ "$needs_configs" = yes ] && [ ! -d "$root/.muster/rendered" ]; then
  echo "deploy.sh: config templates are not rendered ($root/.muster/rendered is missing); \`muster up\` renders them" >&2
  exit 2
fi
cd "$here"
set --
while read -r phase timeout file services; do
  set -- "$@" -c "$file"
  echo "phase $phase: deploying (timeout ${timeout}s)"
  docker stack deploy --resolve-image "$resolve" "$@" "$stack"
  deadline=$(( $(date +%s) + timeout ))
  while :; do
    pending=''
    for member in $services; do
      state=$(state_of "$member")
      case $state in
        converged) ;;
        failed*)
          echo "phase $phase failed: ${member%:job} ${state#failed: }" >&2
          diagnose "$member"
          exit 1
          ;;
        *) pending="$pending $member" ;;
      esac
    done
    [ -z "$pending" ] && break
    if [ "$(date +%s)" -ge "$deadline" ]; then
      echo "phase $phase failed: not converged after ${timeout}s:$(echo "$pending" | sed 's/:job//g')" >&2
      # shellcheck disable=SC2086
      diagnose $pending
      exit 1
    fi
    sleep 2
  done
  echo "phase $phase: converged"
done <<EOF
$phases
EOF
echo "stack $stack deployed"
"#;
