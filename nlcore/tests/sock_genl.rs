//! Generic netlink against this host's kernel: the controller, the family list, and the
//! watcher of families that come and go.
#![cfg(feature = "socket")]

mod sock_util;

use nlcore::consts::*;
use nlcore::genl::CTRL_VERSION;
use nlcore::sock::{Addr, Error, FamilyChange, FamilyEvent, FamilyWatcher, NlSocket};
use nlcore::MsgBuilder;
use sock_util::*;
use std::time::Duration;

#[test]
fn nlctrl_is_family_16_with_group_notify() {
    let mut sock = NlSocket::open_bound(NETLINK_GENERIC).unwrap();
    let mut buf = vec![0u8; 16 * 1024];
    let ctrl = sock
        .resolve_family("nlctrl", &mut buf)
        .unwrap_or_else(|f| panic!("{f}"));
    assert_eq!(ctrl.id, GENL_ID_CTRL);
    assert_eq!(ctrl.id, 16);
    assert_eq!(ctrl.name, "nlctrl");
    let notify = ctrl.group("notify").expect("nlctrl has a notify group");
    assert!(notify > 0);
    assert_eq!(ctrl.group("no-such-group"), None);
}

#[test]
fn unknown_family_is_enoent() {
    let mut sock = NlSocket::open_bound(NETLINK_GENERIC).unwrap();
    sock.set_ext_ack(true).unwrap();
    let mut buf = vec![0u8; 4096];
    let failed = sock
        .resolve_family("no-such-family", &mut buf)
        .expect_err("no family of that name");
    assert_eq!(failed.error, Error::Kernel { errno: 2 }, "{failed}");
}

/// `genl ctrl list` blocks: `Name: nlctrl\n\tID: 0x10 ...`.
fn genl_ctrl_list() -> Vec<(u16, String)> {
    let text = run("genl", &["ctrl", "list"]);
    let mut out = Vec::new();
    let mut name = None;
    for line in text.lines() {
        let line = line.trim();
        if let Some(n) = line.strip_prefix("Name: ") {
            name = Some(n.trim().to_string());
        } else if let Some(rest) = line.strip_prefix("ID: 0x") {
            let hex = rest.split_whitespace().next().unwrap();
            let id = u16::from_str_radix(hex, 16).unwrap();
            out.push((id, name.take().expect("Name before ID")));
        }
    }
    out
}

#[test]
fn family_dump_agrees_with_genl_ctrl_list() {
    let mut sock = NlSocket::open_bound(NETLINK_GENERIC).unwrap();
    let mut buf = vec![0u8; 32 * 1024];
    let mut ours = Vec::new();
    sock.dump_families(&mut buf, |info| {
        ours.push((info.id, info.name.to_string()));
        Ok(())
    })
    .unwrap_or_else(|f| panic!("{f}"));
    ours.sort();
    assert!(ours.iter().any(|(id, n)| *id == 16 && n == "nlctrl"));
    match without_iproute2() {
        Some(why) => report_not_run("family dump == `genl ctrl list`", &why),
        None => {
            let mut theirs = genl_ctrl_list();
            theirs.sort();
            assert_eq!(ours, theirs);
        }
    }
    // Every family also resolves by name to the same id.
    for (id, name) in &ours {
        let fam = sock
            .resolve_family(name, &mut buf)
            .unwrap_or_else(|f| panic!("{name}: {f}"));
        assert_eq!(fam.id, *id, "{name}");
    }
}

#[test]
fn watcher_joins_notify_and_waits_bounded() {
    require_root("joining nlctrl's notify group");
    let mut buf = vec![0u8; 16 * 1024];
    let mut watcher = FamilyWatcher::open(&mut buf).unwrap();
    assert!(watcher.notify_group() > 0);
    // This host cannot load modules, so no family comes or goes here: the wait must end
    // by itself, with no event. (Real appear/disappear needs the module in a guest.)
    let mut events = Vec::new();
    let n = watcher
        .wait(&mut buf, Duration::from_millis(100), |e| events.push(e))
        .unwrap();
    assert_eq!((n, events.len()), (0, 0));
}

/// A controller notification as the kernel sends it (`ctrl_event` → genl_ctrl_event).
fn family_notification(cmd: u8, id: u16, name: &str) -> Vec<u8> {
    let mut buf = [0u8; 128];
    let mut b = MsgBuilder::new(&mut buf);
    b.begin(GENL_ID_CTRL, 0, 0, 0).unwrap();
    b.genl_header(cmd, CTRL_VERSION).unwrap();
    b.put_str(CTRL_ATTR_FAMILY_NAME, name).unwrap();
    b.put_u16(CTRL_ATTR_FAMILY_ID, id).unwrap();
    b.put_u32(CTRL_ATTR_VERSION, 1).unwrap();
    let len = b.finish().unwrap();
    buf[..len].to_vec()
}

#[test]
fn watcher_reports_families_appearing_and_disappearing() {
    require_root("joining a NETLINK_USERSOCK group");
    // The kernel's notifications cannot be provoked on this host (no modules), so a peer
    // socket plays the controller on NETLINK_USERSOCK, sending the same bytes to a group.
    const GROUP: u32 = 7;
    let mut listener = NlSocket::open_bound(NETLINK_USERSOCK).unwrap();
    listener.join_group(GROUP).unwrap();
    listener.set_accept_any_sender(true);
    let mut watcher = FamilyWatcher::from_socket(listener, GROUP);
    let controller = NlSocket::open_bound(NETLINK_USERSOCK).unwrap();

    let appeared = family_notification(CTRL_CMD_NEWFAMILY, 0x2a, "nltelem");
    let gone = family_notification(CTRL_CMD_DELFAMILY, 0x2a, "nltelem");
    // Other controller notifications (a new group) are not family events.
    let other = family_notification(CTRL_CMD_NEWMCAST_GRP, 0x2a, "nltelem");
    let mut buf = vec![0u8; 4096];
    let mut events: Vec<FamilyEvent> = Vec::new();
    for msg in [&appeared, &other, &gone] {
        controller.send_to(msg, Addr::group(GROUP)).unwrap();
        watcher
            .wait(&mut buf, Duration::from_secs(2), |e| events.push(e))
            .unwrap();
    }
    let seen: Vec<(FamilyChange, u16, &str)> = events
        .iter()
        .map(|e| (e.change, e.id, e.name.as_str()))
        .collect();
    assert_eq!(
        seen,
        vec![
            (FamilyChange::Appeared, 0x2a, "nltelem"),
            (FamilyChange::Disappeared, 0x2a, "nltelem"),
        ]
    );
    // Nothing else is pending: the next wait ends at its timeout.
    let n = watcher
        .wait(&mut buf, Duration::from_millis(20), |e| events.push(e))
        .unwrap();
    assert_eq!(n, 0);
}
