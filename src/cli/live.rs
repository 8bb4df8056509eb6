//! `muster check --live`: checks that need Docker. Today: an image whose service has an
//! `http` or `tcp` check but none of the tools the Compose health check tries.

use super::stack;
use super::{Failure, Printer};
use crate::registry::Registry;
use crate::runtime::live::{self, ImageTools, TOOLS};

/// Prints what it finds; returns whether everything can work.
pub fn run(printer: &Printer, reg: &Registry, json: bool) -> Result<bool, Failure> {
    let images = live::images_to_probe(reg);
    if images.is_empty() {
        return Ok(true);
    }
    let rt = stack::runtime()?;
    let found = rt.block_on(async {
        let engine = stack::connect(None).await?;
        Ok::<_, Failure>(live::probe_images(&engine, images.keys()).await)
    })?;
    let mut ok = true;
    let mut lines = Vec::new();
    for (image, tools) in &found {
        let services = images[image].join(", ");
        let line = match tools {
            ImageTools::Found(t) if t.is_empty() => {
                ok = false;
                printer.bad(&format!(
                    "live: image {image} ({services}) has none of {}: its http/tcp health check cannot run on Compose; use `health: {{ exec: ... }}` or `image: true`",
                    TOOLS.join(", ")
                ))
            }
            ImageTools::NoShell => {
                ok = false;
                printer.bad(&format!(
                    "live: image {image} ({services}) has no /bin/sh, so none of {}: its http/tcp health check cannot run on Compose; use `health: {{ exec: [...] }}` or `image: true`",
                    TOOLS.join(", ")
                ))
            }
            ImageTools::Found(t) => format!("live: image {image} ({services}) probes with {}", t[0]),
            ImageTools::Missing => printer.warn(&format!(
                "live: image {image} ({services}) is not on this Docker; pull or build it to check it"
            )),
            ImageTools::Error(e) => printer.warn(&format!("live: image {image} ({services}): {e}")),
        };
        lines.push(line);
    }
    for line in lines {
        if json {
            printer.note(&line);
        } else {
            printer.out(&line);
        }
    }
    Ok(ok)
}
