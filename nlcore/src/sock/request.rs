//! Request/response on a socket: numbering, reply checks, acks and dumps.
//!
//! ```text
//! request (NLM_F_ACK):  --> | req seq=n |
//!                       <-- | data seq=n |* ... | NLMSG_ERROR seq=n, error 0 (ack) or -errno |
//! dump (NLM_F_DUMP):    --> | req seq=n |
//!                       <-- | data seq=n, NLM_F_MULTI |* ... | NLMSG_DONE seq=n, error, ext-ack |
//! ```
//! Replies must come from the peer (the kernel, port 0, unless set otherwise) and carry the
//! request's sequence number and either no port or this socket's; multicast datagrams that
//! arrive meanwhile (the socket may be in groups) are skipped.

use super::{Error, Failed, NlSocket};
use crate::consts::*;
use crate::control::{Ack, Ending, Payload};
use crate::wire::NlMsg;

/// Unrelated multicast datagrams a request skips before giving up: a socket that is in
/// busy groups must not keep a request waiting forever.
const MAX_SKIPPED_DATAGRAMS: u32 = 4096;

/// How a dump ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct DumpEnd {
    /// Data messages handed to the caller.
    pub messages: u32,
    /// Datagrams it took.
    pub datagrams: u32,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Wait for the ack (NLMSG_ERROR); a multipart reply's NLMSG_DONE is not the end.
    Ack,
    /// Wait for NLMSG_DONE.
    Dump,
}

impl Mode {
    /// The type besides `NLMSG_ERROR` that ends the reply (for a request, `NLMSG_ERROR`
    /// again). The receive loop compares types with it rather than testing the mode: a
    /// test of a value that the loop never changes had the compiler make a copy of the
    /// whole loop for each mode.
    fn last_type(self) -> u16 {
        match self {
            Mode::Ack => NLMSG_ERROR,
            Mode::Dump => NLMSG_DONE,
        }
    }
}

/// How an exchange ended well: the bytes of the message that ended it, in the receive
/// buffer, and the counts.
struct End<'b> {
    last: &'b [u8],
    summary: DumpEnd,
}

/// How the reply ended, with the place in the receive buffer as an offset: the loop that
/// finds it cannot hand out a borrow of the buffer it receives into again and again.
struct Last {
    /// Where the bytes that go out lie: the message that ended the reply on success, the
    /// ext-ack TLVs of a failure.
    at: (usize, usize),
    /// The failure, if the reply says one.
    error: Option<Error>,
    summary: DumpEnd,
}

impl NlSocket {
    /// Sends the single message `msg` as a request with an acknowledgement and waits for it.
    ///
    /// The socket numbers the request: it sets `NLM_F_REQUEST | NLM_F_ACK` and a fresh
    /// sequence number in `msg`'s header. Data messages that come before the ack (the
    /// reply of a "get") are handed to `on_data`. A refusal is
    /// [`Error::Kernel`] with the kernel's ext-ack beside it.
    pub fn request<'b>(
        &mut self,
        msg: &mut [u8],
        buf: &'b mut [u8],
        mut on_data: impl FnMut(NlMsg<'_>) -> Result<(), Error>,
    ) -> Result<Ack<'b>, Failed<'b>> {
        let end = self.exchange(msg, Mode::Ack, buf, &mut on_data)?;
        // What the exchange lets through is an ack: read once more for its header and
        // warnings (a few instructions once per request, and a lean exchange for callers
        // that need only success or the failure).
        let last = NlMsg::new_checked(end.last)?;
        match Payload::parse(last)? {
            Payload::Ack(ack) => Ok(ack),
            _ => Err(unexpected(&last).into()),
        }
    }

    /// Sends the single message `msg` as a dump request (`NLM_F_REQUEST | NLM_F_DUMP`, a
    /// fresh sequence number) and hands every data message of the reply to `on_data` until
    /// `NLMSG_DONE`.
    ///
    /// An error in `NLMSG_DONE` (or an `NLMSG_ERROR` instead of a dump) is
    /// [`Error::Kernel`] with the ext-ack beside it; a dump that the kernel flagged
    /// `NLM_F_DUMP_INTR` is read to its end and then reported as
    /// [`Error::DumpInterrupted`]: the caller has seen inconsistent data and dumps again.
    pub fn dump<'b>(
        &mut self,
        msg: &mut [u8],
        buf: &'b mut [u8],
        mut on_data: impl FnMut(NlMsg<'_>) -> Result<(), Error>,
    ) -> Result<DumpEnd, Failed<'b>> {
        Ok(self.exchange(msg, Mode::Dump, buf, &mut on_data)?.summary)
    }

    /// [`request`](Self::request), or [`dump`](Self::dump) when `dump` is set, for a caller
    /// that needs neither the ack nor the dump's counts: success or the failure. One path
    /// for both kinds, not generic: a program that sends both carries the sending and the
    /// end-of-reply parsing once.
    pub fn ask<'b>(
        &mut self,
        msg: &mut [u8],
        dump: bool,
        buf: &'b mut [u8],
        on_data: &mut dyn FnMut(NlMsg<'_>) -> Result<(), Error>,
    ) -> Result<(), Failed<'b>> {
        let mode = if dump { Mode::Dump } else { Mode::Ack };
        self.exchange(msg, mode, buf, on_data).map(drop)
    }

    /// The exchange behind [`request`](Self::request), [`dump`](Self::dump) and
    /// [`ask`](Self::ask), to the verdict on the message that ended it. The callback is a
    /// trait object, not a type parameter: one copy of the exchange serves every caller
    /// (an instance per closure cost a program a kilobyte per call site).
    #[inline(never)]
    fn exchange<'b>(
        &mut self,
        msg: &mut [u8],
        mode: Mode,
        buf: &'b mut [u8],
        on_data: &mut dyn FnMut(NlMsg<'_>) -> Result<(), Error>,
    ) -> Result<End<'b>, Failed<'b>> {
        let flags = match mode {
            Mode::Ack => NLM_F_REQUEST | NLM_F_ACK,
            Mode::Dump => NLM_F_REQUEST | NLM_F_DUMP,
        };
        let seq = self.stamp(msg, flags)?;
        self.send(msg)?;
        // A socket that was never bound got its port from the kernel on this send; the
        // replies are addressed to it.
        self.learn_port()?;
        let last = match self.receive_replies(seq, mode.last_type(), buf, on_data) {
            Ok(last) => last,
            // Nothing (more) came: nothing to clean up.
            Err(e @ (Error::TimedOut | Error::WouldBlock)) => return Err(e.into()),
            // Given up midway: drop what is still queued for this exchange so that the next
            // request does not read stale replies. The first error is the one to report.
            Err(e) => {
                let _ = self.drain(MAX_SKIPPED_DATAGRAMS);
                return Err(e.into());
            }
        };
        let (start, len) = last.at;
        let buf: &'b [u8] = buf;
        let bytes = buf.get(start..start + len).unwrap_or(&[]);
        match last.error {
            None => Ok(End {
                last: bytes,
                summary: last.summary,
            }),
            Some(error) => Err(Failed { error, tlvs: bytes }),
        }
    }

    /// Receives the replies to request `seq`, handing the data messages to `on_data`, up
    /// to the first message of type `NLMSG_ERROR` or `last_type`, and gives the verdict on
    /// that message.
    fn receive_replies(
        &mut self,
        seq: u32,
        last_type: u16,
        buf: &mut [u8],
        on_data: &mut dyn FnMut(NlMsg<'_>) -> Result<(), Error>,
    ) -> Result<Last, Error> {
        let base = buf.as_ptr() as usize;
        let mut summary = DumpEnd::default();
        let mut interrupted = false;
        let mut skipped = 0u32;
        loop {
            let datagram = self.recv_from(&mut *buf)?;
            if datagram.sender.groups != 0 {
                // A notification from a group this socket is in, not a reply.
                skipped += 1;
                if skipped > MAX_SKIPPED_DATAGRAMS {
                    return Err(Error::TimedOut);
                }
                continue;
            }
            if datagram.sender.port != self.peer().port {
                return Err(Error::ForeignSender {
                    port: datagram.sender.port,
                });
            }
            summary.datagrams += 1;
            for m in datagram.messages() {
                let m = m?;
                if m.seq() != seq {
                    return Err(Error::SeqMismatch {
                        expected: seq,
                        got: m.seq(),
                    });
                }
                if m.pid() != 0 && m.pid() != self.port() {
                    return Err(Error::PortMismatch {
                        expected: self.port(),
                        got: m.pid(),
                    });
                }
                interrupted |= m.is_dump_interrupted();
                let ty = m.ty();
                if ty == NLMSG_ERROR || ty == last_type {
                    // The bytes that go out: the message on success, else the failure's
                    // TLVs.
                    let (bytes, error) = match conclude(&m, last_type, interrupted) {
                        Ok(()) => (m.bytes(), None),
                        Err(f) => (f.tlvs, Some(f.error)),
                    };
                    // Where in `buf` they are (as offsets: the loop's borrow of `buf` ends
                    // here). An empty slice (no TLVs) may point anywhere: it is (0, 0).
                    let at = match bytes.len() {
                        0 => (0, 0),
                        len => ((bytes.as_ptr() as usize) - base, len),
                    };
                    return Ok(Last { at, error, summary });
                }
                match ty {
                    // A request's multipart reply ends with a DONE before the ack.
                    NLMSG_NOOP | NLMSG_DONE => {}
                    NLMSG_OVERRUN => return Err(self.count_overrun()),
                    _ => {
                        summary.messages += 1;
                        on_data(m)?;
                    }
                }
            }
        }
    }

    /// Gives `msg` (exactly one message) its flags and a fresh sequence number.
    fn stamp(&mut self, msg: &mut [u8], flags: u16) -> Result<u32, Error> {
        let len = NlMsg::new_checked(msg)?.bytes().len();
        if crate::align(len) < msg.len() {
            // More than one message: a batch has no single reply to wait for.
            return Err(Error::Codec(crate::Error::TrailingBytes {
                len: crate::error::count(msg.len() - len),
            }));
        }
        let seq = self.next_seq();
        let old = u16::from_ne_bytes([msg[6], msg[7]]);
        msg[6..8].copy_from_slice(&(old | flags).to_ne_bytes());
        msg[8..12].copy_from_slice(&seq.to_ne_bytes());
        Ok(seq)
    }
}

/// Whether `last`, the message that ended a reply that `last_type` ends (see
/// [`Mode::last_type`]), says success (the ack of a request, the `NLMSG_DONE` of a dump, not
/// `interrupted`), or else the failure. One parser for requests and dumps: a program that
/// sends both carries it once. The ext-ack TLVs are kept as bytes, read if and when the
/// failure is described ([`Failed::ext_ack`]).
fn conclude<'b>(last: &NlMsg<'b>, last_type: u16, interrupted: bool) -> Result<(), Failed<'b>> {
    let ending = Ending::parse(last).map_err(Error::Codec)?;
    let done = ending.request.is_none();
    let error = match ending.errno {
        // An ack ends a request; the DONE of an uninterrupted dump ends a dump.
        0 if last.ty() != last_type => unexpected(last),
        0 if done && interrupted => Error::DumpInterrupted,
        0 => return Ok(()),
        errno => Error::Kernel { errno },
    };
    Err(Failed {
        error,
        tlvs: ending.tlvs,
    })
}

/// The error for an exchange that ended with `msg` where another kind of end was due (an
/// ack for a dump).
fn unexpected(msg: &NlMsg<'_>) -> Error {
    Error::Codec(crate::Error::UnexpectedType {
        nlmsg_type: msg.ty(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(buf: &mut [u8], count: usize) -> usize {
        let mut b = crate::MsgBuilder::new(buf);
        for _ in 0..count {
            b.begin(NLMSG_MIN_TYPE, 0, 0, 0).unwrap();
            b.put_u32(1, 7).unwrap();
            b.finish().unwrap();
        }
        b.len()
    }

    /// An `NLMSG_ERROR` (or `NLMSG_DONE`) with `errno`, echoing a request of `echoed`
    /// bytes (its header, then zeros), then an ext-ack message `why`; its length.
    fn end_message(buf: &mut [u8], ty: u16, flags: u16, errno: i32, echoed: u32) -> usize {
        let mut b = crate::MsgBuilder::new(buf);
        b.begin(ty, flags | NLM_F_ACK_TLVS, 0, 0).unwrap();
        b.put_raw(&(-errno).to_ne_bytes()).unwrap();
        if ty == NLMSG_ERROR {
            let mut request = [0u8; 24];
            request[..4].copy_from_slice(&echoed.to_ne_bytes());
            let copied = if flags & NLM_F_CAPPED != 0 {
                16
            } else {
                echoed
            };
            b.put_raw(&request[..copied as usize]).unwrap();
        }
        b.put_str(NLMSGERR_ATTR_MSG, "why").unwrap();
        b.finish().unwrap()
    }

    /// [`conclude`] on the message of `len` bytes at the start of `buf`.
    fn verdict(buf: &[u8], len: usize, mode: Mode, interrupted: bool) -> Result<(), Failed<'_>> {
        let last = NlMsg::new_checked(&buf[..len]).unwrap();
        conclude(&last, mode.last_type(), interrupted)
    }

    #[test]
    fn conclude_reads_the_errno_and_finds_the_ext_ack_past_the_echo() {
        let mut buf = [0u8; 128];
        for flags in [0, NLM_F_CAPPED] {
            let len = end_message(&mut buf, NLMSG_ERROR, flags, 22, 24);
            let failed = verdict(&buf, len, Mode::Ack, false).unwrap_err();
            assert_eq!(failed.error, Error::Kernel { errno: 22 });
            assert_eq!(failed.ext_ack().msg, Some("why"), "flags {flags:#x}");
        }
        // An echo that claims more than the message holds.
        let mut len = end_message(&mut buf, NLMSG_ERROR, 0, 22, 24);
        buf[20..24].copy_from_slice(&200u32.to_ne_bytes());
        assert!(matches!(
            verdict(&buf, len, Mode::Ack, false).unwrap_err().error,
            Error::Codec(crate::Error::BadMessageLength { claimed: 200, .. })
        ));
        // An ack ends a request, not a dump; an interrupted dump is said to be.
        len = end_message(&mut buf, NLMSG_ERROR, NLM_F_CAPPED, 0, 16);
        assert_eq!(verdict(&buf, len, Mode::Ack, false), Ok(()));
        assert_eq!(
            verdict(&buf, len, Mode::Dump, false).unwrap_err().error,
            unexpected(&NlMsg::new_checked(&buf[..len]).unwrap())
        );
        len = end_message(&mut buf, NLMSG_DONE, NLM_F_MULTI, 0, 0);
        assert_eq!(verdict(&buf, len, Mode::Dump, false), Ok(()));
        assert_eq!(
            verdict(&buf, len, Mode::Dump, true).unwrap_err().error,
            Error::DumpInterrupted
        );
        len = end_message(&mut buf, NLMSG_DONE, NLM_F_MULTI, 5, 0);
        let failed = verdict(&buf, len, Mode::Dump, false).unwrap_err();
        assert_eq!(failed.error, Error::Kernel { errno: 5 });
        assert_eq!(failed.ext_ack().msg, Some("why"));
    }

    #[test]
    fn stamp_numbers_one_message_and_refuses_a_batch() {
        let mut sock = NlSocket::open(NETLINK_ROUTE).unwrap();
        let mut buf = [0u8; 64];
        let len = message(&mut buf, 1);
        let first = sock
            .stamp(&mut buf[..len], NLM_F_REQUEST | NLM_F_ACK)
            .unwrap();
        let second = sock.stamp(&mut buf[..len], NLM_F_REQUEST).unwrap();
        assert_eq!(second, first + 1);
        let msg = NlMsg::new_checked(&buf[..len]).unwrap();
        assert_eq!(msg.seq(), second);
        assert_eq!(msg.flags(), NLM_F_REQUEST | NLM_F_ACK);
        let len = message(&mut buf, 2);
        assert!(matches!(
            sock.stamp(&mut buf[..len], NLM_F_REQUEST),
            Err(Error::Codec(crate::Error::TrailingBytes { .. }))
        ));
    }
}
