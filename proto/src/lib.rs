//! The nltelem protocol as the agent and the test programs see it: family and group names,
//! the classic unit's numbers, commands, attribute types and reader policies.
//!
//! Everything in [`generated`] comes from `spec/nltelem.yaml` through `cargo xtask gen`;
//! `cargo xtask test` fails when it is stale. Change the spec, never the generated file.
#![no_std]

// Generated text is kept byte for byte as `cargo xtask gen` writes it.
#[rustfmt::skip]
pub mod generated;

pub use generated::*;

/// The classic unit's `nlmsg_type` for a command.
pub const fn classic_type(command: u8) -> u16 {
    CLASSIC_TYPE_BASE + command as u16
}

/// The command a classic unit message carries, if its type is one of ours.
pub const fn classic_command(nlmsg_type: u16) -> Option<u8> {
    match nlmsg_type.checked_sub(CLASSIC_TYPE_BASE) {
        Some(c) if c >= 1 && c <= cmd::MAX as u16 => Some(c as u8),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classic_types_round_trip_for_every_command() {
        for c in 1..=cmd::MAX {
            assert_eq!(classic_command(classic_type(c)), Some(c));
        }
        assert_eq!(classic_command(CLASSIC_TYPE_BASE), None);
        assert_eq!(
            classic_command(CLASSIC_TYPE_BASE + u16::from(cmd::MAX) + 1),
            None
        );
        // Control messages (NLMSG_ERROR, NLMSG_DONE) are below the base.
        assert_eq!(classic_command(2), None);
        assert_eq!(classic_command(3), None);
    }
}
