//! The two ways to the module, as message layouts:
//!
//! ```text
//! genl:    | nlmsghdr type=<family id> | genlmsghdr cmd, version | attributes |
//! classic: | nlmsghdr type=16+cmd      | attributes |
//! ```
//! Group membership differs too: generic netlink groups have ids from the controller; the
//! classic unit's groups are fixed numbers (1 telemetry, 2 events).

use nlcore::consts::{
    CTRL_ATTR_FAMILY_ID, CTRL_ATTR_FAMILY_NAME, CTRL_ATTR_MCAST_GROUPS, CTRL_ATTR_MCAST_GRP_ID,
    CTRL_ATTR_MCAST_GRP_NAME, GENL_HDRLEN, GENL_ID_CTRL, NETLINK_GENERIC,
};
use nlcore::{AttrIter, Buffer, GenlMsgHdr, MsgBuilder, NlMsg};
use nltelem_proto as proto;

/// The generic netlink controller (`nlctrl`) as a route: resolving a family is a request
/// like those to the module, through the same code. Its messages carry the module's
/// version byte (1) rather than the controller's (2): the controller reads no version.
pub const CONTROLLER: Route = Route::Genl {
    family: GENL_ID_CTRL,
    telemetry: None,
    events: None,
};

/// A resolved way to the module.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// The generic netlink family, with the ids the controller gave this boot.
    Genl {
        /// Family id (`nlmsg_type`).
        family: u16,
        /// Id of group `telemetry`.
        telemetry: Option<u32>,
        /// Id of group `events`.
        events: Option<u32>,
    },
    /// The classic unit.
    Classic {
        /// The netlink protocol number.
        unit: u32,
    },
}

impl Route {
    /// The socket protocol to open.
    pub fn protocol(&self) -> i32 {
        match *self {
            Route::Genl { .. } => NETLINK_GENERIC,
            // Units are 0..31 (checked by the configuration): the cast keeps the value.
            Route::Classic { unit } => unit as i32,
        }
    }

    /// Group ids to join for telemetry and events.
    pub fn group_ids(&self) -> (Option<u32>, Option<u32>) {
        match *self {
            Route::Genl {
                telemetry, events, ..
            } => (telemetry, events),
            Route::Classic { .. } => (
                Some(proto::CLASSIC_GROUP_TELEMETRY),
                Some(proto::CLASSIC_GROUP_EVENTS),
            ),
        }
    }

    /// Opens a request for `cmd` (the socket adds `NLM_F_REQUEST`, the ack flag and the
    /// sequence number); attributes follow, then `finish`.
    pub fn begin<B: Buffer>(&self, b: &mut MsgBuilder<B>, cmd: u8) -> Result<(), nlcore::Error> {
        // The type, and how much of a generic netlink header follows (all or none): one
        // sequence for both, without a branch.
        let (ty, genl_len) = match *self {
            Route::Genl { family, .. } => (family, GENL_HDRLEN),
            Route::Classic { .. } => (proto::classic_type(cmd), 0),
        };
        b.begin(ty, 0, 0, 0)?;
        let genl = GenlMsgHdr {
            cmd,
            version: proto::FAMILY_VERSION,
            reserved: 0,
        };
        b.put_raw(genl.to_bytes().get(..genl_len).unwrap_or_default())
    }

    /// The command and attributes of one of the module's messages; `None` for messages
    /// that are not the module's (another family's type, a control message).
    pub fn open<'a>(&self, msg: &NlMsg<'a>) -> Option<(u8, AttrIter<'a>)> {
        // The command, and where the attributes start: one read of them for both.
        let (cmd, header) = match *self {
            Route::Genl { family, .. } => {
                if msg.ty() != family {
                    return None;
                }
                (msg.genl_header().ok()?.cmd, GENL_HDRLEN)
            }
            Route::Classic { .. } => (proto::classic_command(msg.ty())?, 0),
        };
        Some((cmd, msg.attrs(header).ok()?))
    }
}

/// What the generic netlink controller says about a family, in its reply to
/// `CTRL_CMD_GETFAMILY` and in the messages of its `notify` group. Read straight from the
/// attributes: nlcore's `FamilyInfo` checks the whole description against policies, much
/// code for the few fields the agent reads.
#[derive(Debug, Clone)]
pub struct CtrlFamily<'a> {
    /// The controller's command: `CTRL_CMD_NEWFAMILY` (a reply, or a family that
    /// appeared), `CTRL_CMD_DELFAMILY` (one that went)...
    pub cmd: u8,
    /// The family's id (`nlmsg_type`).
    pub id: u16,
    /// Its multicast groups (`CTRL_ATTR_MCAST_GROUPS` entries).
    groups: AttrIter<'a>,
}

impl<'a> CtrlFamily<'a> {
    /// Reads a controller message about the family `name`; `None` for a message that is
    /// not the controller's, and as [`read`](Self::read) says.
    pub fn parse(msg: &NlMsg<'a>, name: &[u8]) -> Option<Self> {
        let (cmd, attrs) = CONTROLLER.open(msg)?;
        Self::read(cmd, attrs, name)
    }

    /// Reads the command `cmd` and attributes `attrs` of a controller message (as
    /// [`Route::open`] gives them for [`CONTROLLER`]) about the family `name` (without the
    /// NUL); `None` without the id and name, or for another family. Every caller wants one
    /// family: the name is compared here, once for all of them.
    pub fn read(cmd: u8, mut attrs: AttrIter<'a>, name: &[u8]) -> Option<Self> {
        let (mut id, mut found, mut groups) = (None, None, AttrIter::new(&[]));
        while let Some(Ok(a)) = attrs.next() {
            match a.kind() {
                CTRL_ATTR_FAMILY_ID => id = a.get_u16().ok(),
                CTRL_ATTR_FAMILY_NAME => found = a.get_cstr_bytes().ok(),
                CTRL_ATTR_MCAST_GROUPS => groups = a.nested(),
                _ => {}
            }
        }
        if found? != name {
            return None;
        }
        Some(CtrlFamily {
            cmd,
            id: id?,
            groups,
        })
    }

    /// The ids of the family's multicast groups named `names` (`None` for one it does not
    /// have), found in one walk of its groups (a name given twice, which a family's own
    /// names never are, would read as its last entry).
    pub fn group_ids(&self, names: &[&str; 2]) -> [Option<u32>; 2] {
        let mut ids = [None; 2];
        let mut groups = self.groups.clone();
        while let Some(Ok(entry)) = groups.next() {
            let (mut this, mut id) = (None, None);
            let mut attrs = entry.nested();
            while let Some(Ok(a)) = attrs.next() {
                match a.kind() {
                    CTRL_ATTR_MCAST_GRP_NAME => this = a.get_cstr_bytes().ok(),
                    CTRL_ATTR_MCAST_GRP_ID => id = a.get_u32().ok(),
                    _ => {}
                }
            }
            for (slot, name) in ids.iter_mut().zip(names) {
                if this == Some(name.as_bytes()) {
                    *slot = id;
                }
            }
        }
        ids
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nlcore::consts::{CTRL_CMD_DELFAMILY, CTRL_CMD_GETFAMILY, CTRL_CMD_NEWFAMILY};
    use nlcore::genl::{build_get_family, FamilyInfo};
    use nlcore::sock::NlSocket;
    use nltelem_proto::cmd;

    #[test]
    fn group_ids_are_read_from_a_family_description() {
        let mut buf = [0u8; 256];
        let mut b = MsgBuilder::new(&mut buf);
        b.begin(GENL_ID_CTRL, 0, 0, 0).unwrap();
        b.genl_header(CTRL_CMD_NEWFAMILY, 2).unwrap();
        b.put_u16(CTRL_ATTR_FAMILY_ID, 0x1d).unwrap();
        b.put_str(CTRL_ATTR_FAMILY_NAME, "nltelem").unwrap();
        let list = b.nest_start(CTRL_ATTR_MCAST_GROUPS).unwrap();
        for (i, (name, id)) in [("telemetry", 7u32), ("events", 8)].into_iter().enumerate() {
            let entry = b.nest_start(i as u16 + 1).unwrap();
            b.put_u32(CTRL_ATTR_MCAST_GRP_ID, id).unwrap();
            b.put_str(CTRL_ATTR_MCAST_GRP_NAME, name).unwrap();
            b.nest_end(entry).unwrap();
        }
        // An entry without an id names no group.
        let entry = b.nest_start(3).unwrap();
        b.put_str(CTRL_ATTR_MCAST_GRP_NAME, "broken").unwrap();
        b.nest_end(entry).unwrap();
        b.nest_end(list).unwrap();
        let len = b.finish().unwrap();
        let msg = NlMsg::new_checked(&buf[..len]).unwrap();
        let family = CtrlFamily::parse(&msg, b"nltelem").unwrap();
        assert_eq!((family.cmd, family.id), (CTRL_CMD_NEWFAMILY, 0x1d));
        assert!(
            CtrlFamily::parse(&msg, b"nltele").is_none(),
            "another family"
        );
        assert_eq!(
            family.group_ids(&["telemetry", "events"]),
            [Some(7), Some(8)]
        );
        assert_eq!(
            family.group_ids(&["events", "telemetry"]),
            [Some(8), Some(7)]
        );
        assert_eq!(family.group_ids(&["broken", "event"]), [None, None]);
        assert_eq!(family.group_ids(&["", "events"]), [None, Some(8)]);
    }

    #[test]
    fn a_family_needs_an_id_and_a_name_and_the_controller_as_sender() {
        let message = |ty: u16, id: Option<u16>, name: Option<&str>| {
            let mut buf = [0u8; 64];
            let mut b = MsgBuilder::new(&mut buf);
            b.begin(ty, 0, 0, 0).unwrap();
            b.genl_header(CTRL_CMD_DELFAMILY, 2).unwrap();
            if let Some(id) = id {
                b.put_u16(CTRL_ATTR_FAMILY_ID, id).unwrap();
            }
            if let Some(name) = name {
                b.put_str(CTRL_ATTR_FAMILY_NAME, name).unwrap();
            }
            let len = b.finish().unwrap();
            let msg = NlMsg::new_checked(&buf[..len]).unwrap();
            CtrlFamily::parse(&msg, b"gone").map(|f| (f.cmd, f.id, f.group_ids(&["x", ""])))
        };
        assert_eq!(
            message(GENL_ID_CTRL, Some(30), Some("gone")),
            Some((CTRL_CMD_DELFAMILY, 30, [None, None]))
        );
        assert_eq!(message(GENL_ID_CTRL, Some(30), Some("here")), None);
        assert_eq!(message(GENL_ID_CTRL, None, Some("gone")), None);
        assert_eq!(message(GENL_ID_CTRL, Some(30), None), None);
        assert_eq!(message(0x1d, Some(30), Some("gone")), None);
    }

    #[test]
    fn the_kernels_own_controller_reads_as_nlcore_reads_it() {
        let mut sock = NlSocket::open_bound(NETLINK_GENERIC).expect("a generic netlink socket");
        let mut req = [0u8; 64];
        let len = {
            let mut b = MsgBuilder::new(&mut req);
            build_get_family(&mut b, "nlctrl", 0).unwrap();
            b.len()
        };
        let mut buf = [0u8; 8192];
        let mut seen = 0;
        sock.request(&mut req[..len], &mut buf, |msg| {
            let info = FamilyInfo::parse(msg)?;
            let family = CtrlFamily::parse(&msg, info.name.as_bytes())
                .expect("the controller's description");
            assert_eq!((family.cmd, family.id), (info.cmd, info.id));
            let names = ["notify", "nothing"];
            let ids = [info.mcast_group(names[0])?, info.mcast_group(names[1])?];
            assert_eq!(family.group_ids(&names), ids);
            // The controller's one group has the controller's id: the watcher joins it
            // without asking (conn::CTRL_NOTIFY_GROUP).
            assert_eq!(ids, [Some(u32::from(GENL_ID_CTRL)), None]);
            seen += 1;
            Ok(())
        })
        .unwrap();
        assert_eq!(seen, 1);
    }

    #[test]
    fn the_controller_answers_a_request_built_and_read_as_the_modules_are() {
        let mut sock = NlSocket::open_bound(NETLINK_GENERIC).expect("a generic netlink socket");
        let mut req = [0u8; 64];
        let len = {
            let mut b = MsgBuilder::new(&mut req);
            CONTROLLER.begin(&mut b, CTRL_CMD_GETFAMILY).unwrap();
            b.put_str(CTRL_ATTR_FAMILY_NAME, "nlctrl").unwrap();
            b.finish().unwrap()
        };
        let mut buf = [0u8; 8192];
        let mut found = None;
        sock.ask(&mut req[..len], false, &mut buf, &mut |msg| {
            let (cmd, attrs) = CONTROLLER.open(&msg).expect("the controller's message");
            let family = CtrlFamily::read(cmd, attrs, b"nlctrl").expect("an id and the name");
            found = Some((family.cmd, family.id));
            assert_eq!(
                family.group_ids(&["notify", ""]),
                [Some(u32::from(GENL_ID_CTRL)), None]
            );
            Ok(())
        })
        .unwrap();
        assert_eq!(found, Some((CTRL_CMD_NEWFAMILY, GENL_ID_CTRL)));
    }

    #[test]
    fn genl_requests_carry_the_family_and_command() {
        let route = Route::Genl {
            family: 0x1d,
            telemetry: Some(7),
            events: Some(8),
        };
        let mut buf = [0u8; 64];
        let mut b = MsgBuilder::new(&mut buf);
        route.begin(&mut b, cmd::GET_STATS).unwrap();
        let len = b.finish().unwrap();
        assert_eq!(len, 20);
        let msg = NlMsg::new_checked(&buf[..len]).unwrap();
        assert_eq!(msg.ty(), 0x1d);
        let (c, mut attrs) = route.open(&msg).unwrap();
        assert_eq!(c, cmd::GET_STATS);
        assert!(attrs.next().is_none());
        assert_eq!(route.protocol(), NETLINK_GENERIC);
        assert_eq!(route.group_ids(), (Some(7), Some(8)));
        // Another family's message is not ours.
        let other = Route::Genl {
            family: 0x1e,
            telemetry: None,
            events: None,
        };
        assert!(other.open(&msg).is_none());
    }

    #[test]
    fn classic_requests_put_the_command_in_the_type() {
        let route = Route::Classic { unit: 25 };
        let mut buf = [0u8; 64];
        let mut b = MsgBuilder::new(&mut buf);
        route.begin(&mut b, cmd::HEARTBEAT).unwrap();
        b.put_u64(1, 5).unwrap();
        let len = b.finish().unwrap();
        let msg = NlMsg::new_checked(&buf[..len]).unwrap();
        assert_eq!(msg.ty(), 16 + u16::from(cmd::HEARTBEAT));
        let (c, attrs) = route.open(&msg).unwrap();
        assert_eq!(c, cmd::HEARTBEAT);
        assert_eq!(attrs.count(), 1);
        assert_eq!(route.protocol(), 25);
        assert_eq!(route.group_ids(), (Some(1), Some(2)));
    }
}
