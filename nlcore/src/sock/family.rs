//! Generic netlink over a socket: resolve a family and its multicast groups by name, list
//! every family, and watch the controller's `notify` group for families that come and go.

use super::{DumpEnd, Error, Failed, NlSocket};
use crate::builder::MsgBuilder;
use crate::consts::*;
use crate::genl::{build_dump_families, build_get_family, FamilyInfo};
use crate::wire::NlMsg;
use core::time::Duration;
use heapless::{String, Vec};

/// Multicast groups kept per family; the kernel's families have a handful at most.
pub const MAX_GROUPS: usize = 16;

/// Size of the request buffer a controller request needs (header, genl header, a name).
const CTRL_REQUEST_LEN: usize = 64;

/// A multicast group of a family, owned (no borrow of the receive buffer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// The group's name, e.g. `"notify"`.
    pub name: String<GENL_NAMSIZ>,
    /// Its id for [`NlSocket::join_group`].
    pub id: u32,
}

/// A generic netlink family as the controller describes it, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Family {
    /// The family id: the `nlmsg_type` of its messages. Assigned at run time.
    pub id: u16,
    /// Its name.
    pub name: String<GENL_NAMSIZ>,
    /// Its version.
    pub version: u32,
    /// Size of its user header after `genlmsghdr`.
    pub hdr_size: u32,
    /// Its highest attribute type.
    pub max_attr: u32,
    /// Its multicast groups.
    pub groups: Vec<Group, MAX_GROUPS>,
}

impl Family {
    /// Copies what a client keeps out of a controller message.
    pub fn from_info(info: &FamilyInfo<'_>) -> Result<Self, Error> {
        let mut groups = Vec::new();
        for g in info.mcast_groups() {
            let g = g?;
            let group = Group {
                name: short_string(g.name)?,
                id: g.id,
            };
            groups.push(group).map_err(|_| {
                Error::Codec(crate::Error::BufferFull {
                    need: crate::error::count(MAX_GROUPS + 1),
                    free: crate::error::count(MAX_GROUPS),
                })
            })?;
        }
        Ok(Family {
            id: info.id,
            name: short_string(info.name)?,
            version: info.version,
            hdr_size: info.hdr_size,
            max_attr: info.max_attr,
            groups,
        })
    }

    /// The id of the group called `name`.
    pub fn group(&self, name: &str) -> Option<u32> {
        self.groups.iter().find(|g| g.name == name).map(|g| g.id)
    }
}

fn short_string(s: &str) -> Result<String<GENL_NAMSIZ>, Error> {
    String::try_from(s).map_err(|_| {
        Error::Codec(crate::Error::BufferFull {
            need: crate::error::count(s.len()),
            free: crate::error::count(GENL_NAMSIZ),
        })
    })
}

impl NlSocket {
    /// Looks up the generic netlink family `name` (`CTRL_CMD_GETFAMILY`) on this
    /// `NETLINK_GENERIC` socket. An unknown name is [`Error::Kernel`] with `ENOENT`.
    pub fn resolve_family<'b>(
        &mut self,
        name: &str,
        buf: &'b mut [u8],
    ) -> Result<Family, Failed<'b>> {
        let mut req = [0u8; CTRL_REQUEST_LEN];
        let len = {
            let mut b = MsgBuilder::new(&mut req);
            build_get_family(&mut b, name, 0)?;
            b.len()
        };
        let mut found: Option<Family> = None;
        self.request(&mut req[..len], buf, |msg| {
            let info = FamilyInfo::parse(msg)?;
            if info.name == name {
                found = Some(Family::from_info(&info)?);
            }
            Ok(())
        })?;
        found.ok_or(Failed::from(Error::NotFound))
    }

    /// Lists every registered family (a `CTRL_CMD_GETFAMILY` dump).
    pub fn dump_families<'b>(
        &mut self,
        buf: &'b mut [u8],
        mut on_family: impl FnMut(&FamilyInfo<'_>) -> Result<(), Error>,
    ) -> Result<DumpEnd, Failed<'b>> {
        let mut req = [0u8; CTRL_REQUEST_LEN];
        let len = {
            let mut b = MsgBuilder::new(&mut req);
            build_dump_families(&mut b, 0)?;
            b.len()
        };
        self.dump(&mut req[..len], buf, |msg| {
            on_family(&FamilyInfo::parse(msg)?)
        })
    }
}

/// Whether a family came or went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum FamilyChange {
    /// `CTRL_CMD_NEWFAMILY`: registered (e.g. its module was loaded).
    Appeared,
    /// `CTRL_CMD_DELFAMILY`: unregistered (its module was unloaded); its ids are void.
    Disappeared,
}

/// A family that came or went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FamilyEvent {
    /// Came or went.
    pub change: FamilyChange,
    /// Its id (when it appeared: the new one).
    pub id: u16,
    /// Its name.
    pub name: String<GENL_NAMSIZ>,
}

impl FamilyEvent {
    /// The event a controller notification stands for; `None` for the controller's other
    /// notifications (groups and operations changing).
    pub fn parse(msg: NlMsg<'_>) -> Result<Option<Self>, Error> {
        if msg.ty() != GENL_ID_CTRL {
            return Ok(None);
        }
        let change = match msg.genl_header()?.cmd {
            CTRL_CMD_NEWFAMILY => FamilyChange::Appeared,
            CTRL_CMD_DELFAMILY => FamilyChange::Disappeared,
            _ => return Ok(None),
        };
        let info = FamilyInfo::parse(msg)?;
        Ok(Some(FamilyEvent {
            change,
            id: info.id,
            name: short_string(info.name)?,
        }))
    }
}

/// A `NETLINK_GENERIC` socket in the controller's `notify` group: it reports families
/// that appear and disappear (joining the group needs root on most systems).
#[derive(Debug)]
pub struct FamilyWatcher {
    sock: NlSocket,
    notify_group: u32,
}

impl FamilyWatcher {
    /// Opens a socket, resolves `nlctrl`'s `notify` group by name and joins it. `buf`
    /// receives the controller's reply.
    pub fn open(buf: &mut [u8]) -> Result<Self, Error> {
        let mut sock = NlSocket::open_bound(NETLINK_GENERIC)?;
        let ctrl = sock
            .resolve_family(GENL_CTRL_NAME, buf)
            .map_err(|f| f.error)?;
        let notify_group = ctrl.group(GENL_CTRL_GROUP_NOTIFY).ok_or(Error::NotFound)?;
        sock.join_group(notify_group)?;
        Ok(FamilyWatcher { sock, notify_group })
    }

    /// Watches through an existing socket (any unit, e.g. for a test peer); `notify_group`
    /// is the group it already receives the notifications of.
    pub fn from_socket(sock: NlSocket, notify_group: u32) -> Self {
        FamilyWatcher { sock, notify_group }
    }

    /// The controller's `notify` group id.
    pub fn notify_group(&self) -> u32 {
        self.notify_group
    }

    /// The socket, e.g. to poll it together with others.
    pub fn socket(&mut self) -> &mut NlSocket {
        &mut self.sock
    }

    /// Waits up to `timeout` for one notification datagram and hands each family event in
    /// it to `on_event`; returns how many there were (0 when the wait timed out). After an
    /// [`Error::Overrun`] events were lost: resynchronise with
    /// [`NlSocket::dump_families`].
    pub fn wait(
        &mut self,
        buf: &mut [u8],
        timeout: Duration,
        mut on_event: impl FnMut(FamilyEvent),
    ) -> Result<u32, Error> {
        if !self.sock.poll_readable(timeout)? {
            return Ok(0);
        }
        let datagram = self.sock.recv_from(buf)?;
        let mut events = 0;
        for msg in datagram.messages() {
            if let Some(event) = FamilyEvent::parse(msg?)? {
                events += 1;
                on_event(event);
            }
        }
        Ok(events)
    }
}
