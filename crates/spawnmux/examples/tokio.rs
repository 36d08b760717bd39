//! Three children, a TCP listener and a timer in one `tokio::select!` loop, on tokio's
//! current-thread runtime.
//!
//! ```text
//! cargo run -p spawnmux --example tokio --features tokio
//! ```
//!
//! The children are this same program (`child N`), so the example needs nothing else; while
//! it runs, `nc 127.0.0.1 <port>` shows a connection being accepted.

use std::time::Duration;

use spawnmux::tokio::AsyncMux;
use spawnmux::{Command, Event, Events};
use tokio::net::TcpListener;

/// What each child does: N lines, 100 ms apart, then exit N.
fn child(n: u32) {
    for i in 1..=n {
        println!("line {i} of {n}");
        std::thread::sleep(Duration::from_millis(100));
    }
    std::process::exit(n as i32);
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    if let (Some("child"), Some(n)) = (args.next().as_deref(), args.next()) {
        child(n.parse().expect("a count"));
    }
    let me = std::env::current_exe()?;
    let mut mux = AsyncMux::new()?;
    for n in [3, 5, 7] {
        let mut cmd = Command::new(&me);
        cmd.args(["child", &n.to_string()])
            .name(format!("child{n}"));
        mux.with_mux(|mux| mux.spawn(&cmd))?;
    }
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    println!("listening on {}", listener.local_addr()?);
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    let mut events = Events::new();
    let mut ticks = 0;
    while !mux.with_mux(|mux| mux.is_empty()) {
        tokio::select! {
            // Cancel-safe: when another branch wins, no child event is lost.
            waited = mux.wait(&mut events) => {
                waited?;
                for event in &events {
                    match event {
                        Event::Output(line) => println!("[{}] {}", line.name, line.text()),
                        Event::Exited { name, exit, .. } => println!("[{name}] exited: {exit}"),
                        _ => {}
                    }
                }
            }
            accepted = listener.accept() => {
                let (_, peer) = accepted?;
                println!("connection from {peer}");
            }
            _ = tick.tick() => ticks += 1,
        }
    }
    println!("all children done after {ticks} ticks");
    Ok(())
}
