//! The difference between two versions of an object as a JSON patch (RFC 6902), which
//! kustomize applies to a base object: what an overlay writes for an object that an
//! environment changes. JSON patches are exact (a strategic merge patch would merge lists by
//! key, and could not say "this list is now that list").
//!
//! Mappings are compared key by key; lists of the same length item by item; a list whose
//! length changed is replaced whole; any other difference is a `replace`.

use serde_json::{Map, Value as Json};

/// One patch operation, as kustomize reads it.
pub fn op(op: &str, path: &str, value: Option<&Json>) -> Json {
    let mut m = Map::new();
    m.insert("op".into(), Json::String(op.into()));
    m.insert("path".into(), Json::String(path.into()));
    if let Some(v) = value {
        m.insert("value".into(), v.clone());
    }
    Json::Object(m)
}

/// A key as a JSON pointer token.
fn token(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// The operations that turn `from` into `to`, in a stable order (keys sorted).
pub fn diff(from: &Json, to: &Json) -> Vec<Json> {
    let mut ops = Vec::new();
    walk(from, to, "", &mut ops);
    ops
}

fn walk(from: &Json, to: &Json, path: &str, ops: &mut Vec<Json>) {
    if from == to {
        return;
    }
    match (from, to) {
        (Json::Object(a), Json::Object(b)) => {
            let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
            keys.sort();
            keys.dedup();
            for k in keys {
                let here = format!("{path}/{}", token(k));
                match (a.get(k), b.get(k)) {
                    (Some(x), Some(y)) => walk(x, y, &here, ops),
                    (Some(_), None) => ops.push(op("remove", &here, None)),
                    (None, Some(y)) => ops.push(op("add", &here, Some(y))),
                    (None, None) => {}
                }
            }
        }
        (Json::Array(a), Json::Array(b)) if a.len() == b.len() => {
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                walk(x, y, &format!("{path}/{i}"), ops);
            }
        }
        _ => ops.push(op("replace", path, Some(to))),
    }
}

/// `doc` with the operations applied, for tests and for checking a patch before writing it.
#[cfg(test)]
pub fn apply(doc: &Json, ops: &[Json]) -> Json {
    let mut doc = doc.clone();
    for o in ops {
        let path = o["path"].as_str().unwrap();
        let (parent, last) = path.rsplit_once('/').unwrap();
        let last = last.replace("~1", "/").replace("~0", "~");
        let target = if parent.is_empty() {
            &mut doc
        } else {
            doc.pointer_mut(parent).unwrap()
        };
        match (o["op"].as_str().unwrap(), target) {
            ("remove", Json::Object(m)) => {
                m.remove(&last);
            }
            (_, Json::Object(m)) => {
                m.insert(last, o["value"].clone());
            }
            (_, Json::Array(a)) => a[last.parse::<usize>().unwrap()] = o["value"].clone(),
            _ => panic!("bad patch {o}"),
        }
    }
    doc
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn changes_become_exact_operations() {
        let a = json!({"spec": {"replicas": 1, "ports": [1, 2], "a/b": "x", "gone": true}});
        let b = json!({"spec": {"replicas": 3, "ports": [1, 2, 3], "a/b": "y", "new": 1}});
        let ops = diff(&a, &b);
        assert_eq!(
            ops,
            vec![
                op("replace", "/spec/a~1b", Some(&json!("y"))),
                op("remove", "/spec/gone", None),
                op("add", "/spec/new", Some(&json!(1))),
                op("replace", "/spec/ports", Some(&json!([1, 2, 3]))),
                op("replace", "/spec/replicas", Some(&json!(3))),
            ]
        );
        assert_eq!(apply(&a, &ops), b);
        assert!(diff(&a, &a).is_empty());
    }

    fn tree() -> impl Strategy<Value = Json> {
        let leaf = prop_oneof![
            any::<i64>().prop_map(Json::from),
            "[a-z~/]{0,3}".prop_map(Json::from),
            Just(Json::Null),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Json::Array),
                prop::collection::btree_map("[a-c~/]{1,2}", inner, 0..4)
                    .prop_map(|m| Json::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn applying_the_diff_gives_the_target(
            a in prop::collection::btree_map("[a-c]", tree(), 0..4),
            b in prop::collection::btree_map("[a-c]", tree(), 0..4),
        ) {
            let a = Json::Object(a.into_iter().collect());
            let b = Json::Object(b.into_iter().collect());
            prop_assert_eq!(apply(&a, &diff(&a, &b)), b);
        }
    }
}
