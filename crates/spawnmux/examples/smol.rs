//! Three children and a timer in one smol loop (a race of futures, `futures_lite::future::or`
//! through `smol::future::or`).
//!
//! ```text
//! cargo run -p spawnmux --example smol --features async-io
//! ```

use std::time::Duration;

use smol::Timer;
use spawnmux::async_io::AsyncMux;
use spawnmux::{Command, Event, Events};

/// What each child does: N lines, 100 ms apart, then exit N.
fn child(n: u32) {
    for i in 1..=n {
        println!("line {i} of {n}");
        std::thread::sleep(Duration::from_millis(100));
    }
    std::process::exit(n as i32);
}

enum Woke {
    Events(std::io::Result<usize>),
    Tick,
}

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    if let (Some("child"), Some(n)) = (args.next().as_deref(), args.next()) {
        child(n.parse().expect("a count"));
    }
    smol::block_on(async {
        let me = std::env::current_exe()?;
        let mut mux = AsyncMux::new()?;
        for n in [3, 5, 7] {
            let mut cmd = Command::new(&me);
            cmd.args(["child", &n.to_string()])
                .name(format!("child{n}"));
            mux.with_mux(|mux| mux.spawn(&cmd))?;
        }
        let mut tick = Timer::interval(Duration::from_millis(250));
        let mut events = Events::new();
        let mut ticks = 0;
        while !mux.with_mux(|mux| mux.is_empty()) {
            // Cancel-safe: when the timer wins, the `wait` future is dropped and loses nothing.
            let woke =
                smol::future::or(async { Woke::Events(mux.wait(&mut events).await) }, async {
                    smol::stream::StreamExt::next(&mut tick).await;
                    Woke::Tick
                })
                .await;
            match woke {
                Woke::Events(n) => {
                    n?;
                    for event in &events {
                        match event {
                            Event::Output(line) => println!("[{}] {}", line.name, line.text()),
                            Event::Exited { name, exit, .. } => {
                                println!("[{name}] exited: {exit}")
                            }
                            _ => {}
                        }
                    }
                }
                Woke::Tick => ticks += 1,
            }
        }
        println!("all children done after {ticks} ticks");
        Ok(())
    })
}
