//! The generic netlink controller (`nlctrl`, id `GENL_ID_CTRL`): look up families and their
//! multicast groups by name. Family and group ids are assigned at run time and differ
//! between boots, so a client resolves them by name every time it (re)connects.

use crate::builder::{Buffer, MsgBuilder};
use crate::consts::*;
use crate::policy::{AttrPolicy, Policy, Validation};
use crate::wire::{Attr, AttrIter, NlMsg};
use crate::Error;

/// The controller's version this code speaks (the kernel's `CTRL_VERSION` is 2).
pub const CTRL_VERSION: u8 = 2;

/// Writes a `CTRL_CMD_GETFAMILY` request for the family called `name`.
pub fn build_get_family<B: Buffer>(
    b: &mut MsgBuilder<B>,
    name: &str,
    seq: u32,
) -> Result<(), Error> {
    b.begin(GENL_ID_CTRL, NLM_F_REQUEST | NLM_F_ACK, seq, 0)?;
    let written = b
        .genl_header(CTRL_CMD_GETFAMILY, CTRL_VERSION)
        .and_then(|()| b.put_str(CTRL_ATTR_FAMILY_NAME, name))
        .and_then(|()| b.finish());
    if written.is_err() {
        b.cancel();
    }
    written.map(|_| ())
}

/// Writes a `CTRL_CMD_GETFAMILY` dump request: every registered family.
pub fn build_dump_families<B: Buffer>(b: &mut MsgBuilder<B>, seq: u32) -> Result<(), Error> {
    b.begin(GENL_ID_CTRL, NLM_F_REQUEST | NLM_F_DUMP, seq, 0)?;
    let written = b
        .genl_header(CTRL_CMD_GETFAMILY, CTRL_VERSION)
        .and_then(|()| b.finish());
    if written.is_err() {
        b.cancel();
    }
    written.map(|_| ())
}

const OP_POLICY: Policy<'static> = Policy::new(
    &[AttrPolicy::Unknown, AttrPolicy::U32, AttrPolicy::U32],
    Validation::Lenient,
);

const GROUP_POLICY: Policy<'static> = Policy::new(
    &[
        AttrPolicy::Unknown,
        AttrPolicy::NulString {
            max_len: GENL_NAMSIZ as u16 - 1,
        },
        AttrPolicy::U32,
    ],
    Validation::Lenient,
);

/// How the controller's replies are checked: unknown attributes (newer kernels add some)
/// are skipped, known ones must be well formed.
pub const FAMILY_POLICY: Policy<'static> = Policy::new(
    &[
        AttrPolicy::Unknown,
        AttrPolicy::U16,
        AttrPolicy::NulString {
            max_len: GENL_NAMSIZ as u16 - 1,
        },
        AttrPolicy::U32,
        AttrPolicy::U32,
        AttrPolicy::U32,
        AttrPolicy::NestedArray(&OP_POLICY),
        AttrPolicy::NestedArray(&GROUP_POLICY),
    ],
    Validation::Lenient,
);

/// One command a family offers (`CTRL_ATTR_OPS` entry).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct FamilyOp {
    /// The command number.
    pub id: u32,
    /// `GENL_ADMIN_PERM`, `GENL_CMD_CAP_DO`, `GENL_CMD_CAP_DUMP`, ...
    pub flags: u32,
}

/// One multicast group of a family (`CTRL_ATTR_MCAST_GROUPS` entry).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct McastGroup<'a> {
    /// The group's name, e.g. `"notify"`.
    pub name: &'a str,
    /// Its id, to join with `NETLINK_ADD_MEMBERSHIP`.
    pub id: u32,
}

/// A family as the controller describes it (reply to `CTRL_CMD_GETFAMILY`, or a
/// `CTRL_CMD_NEWFAMILY` / `CTRL_CMD_DELFAMILY` notification).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FamilyInfo<'a> {
    /// The controller command of the message (`CTRL_CMD_NEWFAMILY` for replies).
    pub cmd: u8,
    /// The family id: the `nlmsg_type` of its messages.
    pub id: u16,
    /// Its name.
    pub name: &'a str,
    /// Its version.
    pub version: u32,
    /// Size of its user header after `genlmsghdr`.
    pub hdr_size: u32,
    /// Its highest attribute type.
    pub max_attr: u32,
    ops: Option<Attr<'a>>,
    groups: Option<Attr<'a>>,
}

impl<'a> FamilyInfo<'a> {
    /// Parses a controller message. Fails with [`Error::UnexpectedType`] for other families'
    /// messages and [`Error::MissingAttr`] when the id or name is absent.
    pub fn parse(msg: NlMsg<'a>) -> Result<Self, Error> {
        if msg.ty() != GENL_ID_CTRL {
            return Err(Error::UnexpectedType {
                nlmsg_type: msg.ty(),
            });
        }
        let cmd = msg.genl_header()?.cmd;
        let table = FAMILY_POLICY.parse::<8>(msg.genl_attrs()?)?;
        let u32_or_0 = |kind| table.get(kind).map_or(Ok(0), |a| a.get_u32());
        Ok(FamilyInfo {
            cmd,
            id: table.require(CTRL_ATTR_FAMILY_ID)?.get_u16()?,
            name: table.require(CTRL_ATTR_FAMILY_NAME)?.get_str()?,
            version: u32_or_0(CTRL_ATTR_VERSION)?,
            hdr_size: u32_or_0(CTRL_ATTR_HDRSIZE)?,
            max_attr: u32_or_0(CTRL_ATTR_MAXATTR)?,
            ops: table.get(CTRL_ATTR_OPS),
            groups: table.get(CTRL_ATTR_MCAST_GROUPS),
        })
    }

    /// The family's commands (already validated by [`parse`](Self::parse)).
    pub fn ops(&self) -> impl Iterator<Item = Result<FamilyOp, Error>> + 'a {
        entries(self.ops).map(|entry| {
            let t = OP_POLICY.parse::<3>(entry?.nested())?;
            Ok(FamilyOp {
                id: t.require(CTRL_ATTR_OP_ID)?.get_u32()?,
                flags: t.get(CTRL_ATTR_OP_FLAGS).map_or(Ok(0), |a| a.get_u32())?,
            })
        })
    }

    /// The family's multicast groups.
    pub fn mcast_groups(&self) -> impl Iterator<Item = Result<McastGroup<'a>, Error>> + 'a {
        entries(self.groups).map(|entry| {
            let t = GROUP_POLICY.parse::<3>(entry?.nested())?;
            Ok(McastGroup {
                name: t.require(CTRL_ATTR_MCAST_GRP_NAME)?.get_str()?,
                id: t.require(CTRL_ATTR_MCAST_GRP_ID)?.get_u32()?,
            })
        })
    }

    /// The id of the multicast group called `name`, if the family has one.
    pub fn mcast_group(&self, name: &str) -> Result<Option<u32>, Error> {
        for group in self.mcast_groups() {
            let group = group?;
            if group.name == name {
                return Ok(Some(group.id));
            }
        }
        Ok(None)
    }
}

fn entries(list: Option<Attr<'_>>) -> AttrIter<'_> {
    list.map_or(AttrIter::new(&[]), |a| a.nested())
}
