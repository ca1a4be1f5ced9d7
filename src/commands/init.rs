//! `exp init`: write a commented experiment file to start from.

use std::io::Write;
use std::process::ExitCode;

use anyhow::{Context, bail};

use crate::cli::InitArgs;
use crate::config::template::experiment_template;

/// Writes the template to `--output` (refusing to overwrite without `--force`) or stdout.
pub fn init(args: &InitArgs) -> anyhow::Result<ExitCode> {
    let name = args
        .name
        .clone()
        .unwrap_or_else(|| format!("{}-{}", args.architecture.as_str(), args.dataset.as_str()));
    let text = experiment_template(&name, args.dataset, args.architecture);
    match &args.output {
        None => std::io::stdout()
            .write_all(text.as_bytes())
            .context("writing to stdout")?,
        Some(path) => {
            if path.exists() && !args.force {
                bail!(
                    "`{}` exists; pass --force to overwrite it, or choose another -o",
                    path.display()
                );
            }
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("creating `{}`", dir.display()))?;
            }
            crate::output::write(path, text)
                .with_context(|| format!("writing `{}`", path.display()))?;
            eprintln!(
                "wrote {}: experiment `{name}`; train it with: exp run {}",
                path.display(),
                path.display()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
