//! Platform-specific extensions, as sealed extension traits: nothing here is needed for
//! portable use, and nothing portable depends on it.

#[cfg(unix)]
pub mod unix {
    //! Unix-only extensions: signals by number ([`MuxExt`]), the signal names of this
    //! platform ([`signal_name`], [`signal_number`]: one table, built on the platform's own
    //! numbers, which differ between systems), and the group guard's pid
    //! ([`group_guard_pid`], for programs that are child subreapers).

    use std::io;

    use crate::sys::Signal;
    pub use crate::sys::{group_guard_pid, signal_name, signal_number};
    use crate::{ChildId, Mux};

    mod sealed {
        pub trait Sealed {}
        impl Sealed for crate::Mux {}
    }

    /// Unix-only operations on a [`Mux`].
    pub trait MuxExt: sealed::Sealed {
        /// Sends signal number `signal` (e.g. `libc::SIGINT`, or [`signal_number`]`("HUP")`)
        /// to the child's process group, like [`Mux::terminate`] does with `SIGTERM`. Does
        /// nothing for a child that has finished.
        ///
        /// # Errors
        /// `InvalidInput` if `signal` is not a signal this platform knows; the OS's error if it
        /// refuses.
        fn signal(&mut self, id: ChildId, signal: i32) -> io::Result<()>;
    }

    impl MuxExt for Mux {
        fn signal(&mut self, id: ChildId, signal: i32) -> io::Result<()> {
            Mux::signal(self, id, Signal::Raw(signal))
        }
    }
}

#[cfg(windows)]
pub mod windows {
    //! Windows-only extensions.

    pub use crate::sys::Transport;
    use crate::Command;

    mod sealed {
        pub trait Sealed {}
        impl Sealed for crate::Command {}
    }

    /// Windows-only options of a [`Command`].
    pub trait CommandExt: sealed::Sealed {
        /// How captured streams are connected: [`Transport::Pipe`] (default; named pipes,
        /// which every program accepts, Node.js included) or [`Transport::Socket`] (loopback
        /// socket pairs, the seed article's technique; some programs, Node.js among them,
        /// refuse a socket as stdout).
        fn transport(&mut self, transport: Transport) -> &mut Command;
    }

    impl CommandExt for Command {
        fn transport(&mut self, transport: Transport) -> &mut Command {
            self.os.transport = transport;
            self
        }
    }
}
