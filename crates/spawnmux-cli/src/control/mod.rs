//! `spawnmux ctl` and the runner's control socket (docs/control.md has the protocol).
//!
//! Theory of operation: `spawnmux run` listens on a socket named after its config
//! (`endpoint.rs`) and serves it in its one loop (`server.rs`): the listener and each client
//! connection are `Mux` sources, requests are JSON lines (`protocol.rs`), and what they ask
//! of the helpers goes to the [`Supervisor`](crate::supervisor::Supervisor) like any other
//! input (`status`, `request`), whose actions the runner then applies. Every output piece of
//! a helper is also kept in a ring per helper (`ring.rs`) for `logs`, and sent to the clients
//! that follow it. `spawnmux ctl` (`client.rs`) is the other end: one request, its reply
//! printed. The platform parts (socket, directory, Windows' token) are in `os/`.

mod args;
mod client;
mod conn;
mod endpoint;
mod protocol;
mod ring;
mod server;

use std::path::PathBuf;

use anyhow::{anyhow, bail};
use spawnmux::Mux;

pub(crate) use args::CtlArgs;
pub(crate) use client::run as ctl;
pub(crate) use server::Server;

use crate::cli::RunArgs;
use crate::os;
use endpoint::{BindError, Target};

/// The control socket of the run `args` describe, served, or why there is none (a problem
/// with the default directory: the run goes on without it).
///
/// # Errors
/// Another runner serves this config (it answered with its pid), or something that does not
/// answer holds its socket; `--control PATH` cannot be served.
pub(crate) fn start(
    args: &RunArgs,
    names: &[String],
    mux: &mut Mux,
) -> anyhow::Result<Result<Server, String>> {
    let path = match &args.control {
        Some(p) => p.clone(),
        None => {
            let target = Target {
                config: args.source.config.as_deref(),
                procfile: args.source.procfile.as_deref(),
                commands: &args.commands,
            };
            let path = endpoint::default_path(&target, &std::env::current_dir()?);
            let dir = path.parent().map_or_else(PathBuf::new, PathBuf::from);
            if let Err(e) = os::ctl_dir_ready(&dir, true) {
                return Ok(Err(off(&e)));
            }
            path
        }
    };
    let shown = path.display();
    match endpoint::bind(&path) {
        Ok(endpoint) => Ok(Ok(Server::new(endpoint, path, names, mux)?)),
        Err(BindError::Taken(pid)) => bail!(
            "another spawnmux runs this config: pid {pid} (its control socket is {shown}; \
             --control PATH gives this run another one)"
        ),
        Err(BindError::NoAnswer(why)) => bail!("{why}"),
        Err(BindError::Io(e)) if args.control.is_some() => Err(anyhow!("{shown}: {e}")),
        Err(BindError::Io(e)) => Ok(Err(off(&format!("{shown}: {e}")))),
    }
}

fn off(why: &dyn std::fmt::Display) -> String {
    format!("no control socket, `spawnmux ctl` cannot reach this run: {why} (--control PATH serves one elsewhere)")
}
