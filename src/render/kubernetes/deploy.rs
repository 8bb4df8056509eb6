//! `kubernetes/deploy.sh`: Kubernetes starts everything at once, so the script gives the
//! registry's phases their meaning (REGISTRY.md "Phases"): it builds one kustomization (the
//! base, or the overlay named as its argument), applies the objects no service owns
//! (namespace, network policies, shared claims), then each phase's objects (selected by the
//! `muster.dev/phase` label), and waits, within the phase's timeout, until every workload of
//! the phase rolled out with ready pods (`kubectl rollout status`, which waits for the new
//! revision, where `kubectl wait --for=condition=Available` could pass on old pods) and
//! every Job completed (`kubectl wait --for=condition=complete`, in short steps so that a
//! Job that failed stops the script at once). A failure prints the object's state and exits
//! 1; an unknown environment exits 2.
//!
//! A shell script is text by nature; every value written into it is a registry name or
//! number, quoted for the shell all the same.

use super::{PHASE, SERVICE, Stack, default_timeout};

/// What the script does for one environment (None: the base).
pub struct Target {
    env: Option<String>,
    namespace: String,
    /// `selector:timeout` steps, in order.
    steps: Vec<String>,
}

impl Target {
    pub fn new(env: Option<&String>, stack: &Stack) -> Target {
        let steps = if stack.phases.is_empty() {
            vec![format!("{SERVICE}:{}", default_timeout())]
        } else {
            stack
                .phases
                .iter()
                .map(|p| format!("{PHASE}={}:{}", p.name, p.timeout))
                .collect()
        };
        Target {
            env: env.cloned(),
            namespace: stack.namespace.clone(),
            steps,
        }
    }
}

/// A word for the shell: bare when it is made of safe characters, else single-quoted.
fn quote(s: &str) -> String {
    let safe = !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./=:".contains(&b));
    if safe {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

const PROLOGUE: &str = r#"set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
kubectl=${KUBECTL:-kubectl}
env=${1:-}
"#;

const BODY: &str = r#"
manifest=$(mktemp)
trap 'rm -f "$manifest"' EXIT
# Secret env files and rendered configs live outside this folder (.muster/), so kustomize
# must be allowed to read beyond the kustomization root.
"$kubectl" kustomize --load-restrictor LoadRestrictionsNone "$dir" >"$manifest"

fail() {
  echo "deploy.sh: $1" >&2
  exit 1
}

# Waits until one applied object is ready, at most until the phase's deadline.
ready() {
  local object=$1 deadline=$2 left failed
  left=$((deadline - SECONDS))
  if [ "$left" -lt 1 ]; then
    left=1
  fi
  case "$object" in
    job.batch/*)
      # Complete, or stop at once when the Job failed rather than at the deadline.
      while ! "$kubectl" -n "$namespace" wait --for=condition=complete --timeout=5s "$object" >/dev/null 2>&1; do
        failed=$("$kubectl" -n "$namespace" get "$object" -o 'jsonpath={.status.conditions[?(@.type=="Failed")].status}') || return 1
        if [ "$failed" = True ] || [ "$SECONDS" -ge "$deadline" ]; then
          return 1
        fi
      done
      echo "$object complete"
      ;;
    deployment.apps/* | statefulset.apps/* | daemonset.apps/*)
      "$kubectl" -n "$namespace" rollout status --timeout="${left}s" "$object"
      ;;
  esac
}

# Applies the objects matching a label selector; with a timeout, waits for them.
apply() {
  local selector=$1 timeout=${2:-} deadline applied object
  local -a objects
  deadline=$((SECONDS + ${timeout:-0}))
  applied=$("$kubectl" apply -f "$manifest" -l "$selector" -o name) ||
    fail "applying $selector failed"
  mapfile -t objects <<<"$applied"
  printf '  %s\n' "${objects[@]}"
  if [ -z "$timeout" ]; then
    return 0
  fi
  for object in "${objects[@]}"; do
    if ! ready "$object" "$deadline"; then
      "$kubectl" -n "$namespace" describe "$object" >&2 || true
      fail "$object was not ready within ${timeout}s ($selector)"
    fi
  done
}

echo "== shared objects (namespace $namespace)"
apply '!muster.dev/service'
for step in "${steps[@]}"; do
  selector=${step%:*}
  timeout=${step##*:}
  echo "== $selector (timeout ${timeout}s)"
  apply "$selector" "$timeout"
done
echo "== deployed"
"#;

/// The script for the base and every environment.
pub fn script(stack: &str, targets: &[Target]) -> String {
    let mut out = String::from("#!/usr/bin/env bash\n");
    out.push_str(&format!(
        "# Deploys the stack {} to Kubernetes, phase by phase, waiting on readiness.\n",
        quote(stack)
    ));
    out.push_str("#   ./deploy.sh [ENVIRONMENT]    no ENVIRONMENT: the base\n");
    out.push_str(
        "# Run `muster secrets export kubernetes` first. KUBECTL names another kubectl.\n",
    );
    out.push_str(PROLOGUE);
    out.push_str("\ncase \"$env\" in\n");
    let known: Vec<String> = targets.iter().filter_map(|t| t.env.clone()).collect();
    for t in targets {
        match &t.env {
            None => out.push_str("  \"\")\n    dir=\"$here/base\"\n"),
            Some(env) => {
                out.push_str(&format!("  {})\n", quote(env)));
                out.push_str(&format!("    dir=\"$here/overlays/\"{}\n", quote(env)));
            }
        }
        out.push_str(&format!("    namespace={}\n", quote(&t.namespace)));
        let steps: Vec<String> = t.steps.iter().map(|s| quote(s)).collect();
        out.push_str(&format!("    steps=({})\n", steps.join(" ")));
        out.push_str("    ;;\n");
    }
    out.push_str("  *)\n");
    let known = if known.is_empty() {
        "none".to_string()
    } else {
        known.join(", ")
    };
    out.push_str(&format!(
        "    echo \"deploy.sh: unknown environment $env (known: {})\" >&2\n",
        known.replace(['"', '$', '`', '\\'], "")
    ));
    out.push_str("    exit 2\n    ;;\nesac\n");
    out.push_str(BODY);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::kubernetes::Phase;

    #[test]
    fn steps_follow_phases_or_take_every_service() {
        let mut stack = Stack {
            namespace: "shop".into(),
            objects: vec![],
            generators: vec![],
            phases: vec![],
        };
        assert_eq!(Target::new(None, &stack).steps, ["muster.dev/service:120"]);
        stack.phases = vec![
            Phase {
                name: "core".into(),
                timeout: 90,
            },
            Phase {
                name: "apps".into(),
                timeout: 180,
            },
        ];
        let prod = "prod".to_string();
        let t = Target::new(Some(&prod), &stack);
        assert_eq!(
            t.steps,
            ["muster.dev/phase=core:90", "muster.dev/phase=apps:180"]
        );
        let text = script("shop", &[Target::new(None, &stack), t]);
        assert!(text.starts_with("#!/usr/bin/env bash\n"));
        assert!(text.contains("  prod)\n    dir=\"$here/overlays/\"prod\n"));
        assert!(text.contains("steps=(muster.dev/phase=core:90 muster.dev/phase=apps:180)"));
    }

    #[test]
    fn quoting() {
        assert_eq!(quote("a-b_c"), "a-b_c");
        assert_eq!(quote("it's"), r"'it'\''s'");
        assert_eq!(quote(""), "''");
    }
}
