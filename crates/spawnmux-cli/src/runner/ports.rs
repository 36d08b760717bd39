//! Ports (`port`): an `auto` port's hold ends just before its helper starts.

use crate::spec::HelperSpec;

/// Lets go of the helper's port, if spawnmux held it (`port = "auto"`): it is about to
/// start and bind it.
pub(super) fn release(spec: &HelperSpec) {
    if let Some(port) = &spec.port {
        port.held.release();
    }
}
