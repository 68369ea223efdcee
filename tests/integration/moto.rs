//! The moto server shared by the tests of this process (see `devstack::moto`).
//! Tests stay independent by working in VPCs and secret names of their own.

pub use devstack::Moto;

/// The shared moto server, started on first call.
pub fn moto() -> &'static Moto {
    Moto::shared()
}
