//! The phone as a caller: it sends an INVITE with a PCMU/8000 offer to a SIP address
//! (livekit-sip, for a test of inbound calls), retransmits it until something answers,
//! takes 100/180 as progress, ACKs the final answer, and once answered holds the same
//! conversation the answering phone does ([`PhoneScript`]'s replies and hang-up, the
//! speech-code ear): the dialog is turned around into the shape the callee's code knows,
//! and the same task goes on.
//!
//! In the [`PhoneReport`], `invites` stays 0 (none was received), `answered` means a 2xx
//! came back, and `ended_by` is "caller" when the far end's BYE reached us (the agent
//! hung up) and "callee" when we sent ours, as for the answering phone.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::net::UdpSocket;

use super::message::{self, SipMessage};
use super::{lock, rand_tag, Call, Phone, PhoneReport, PhoneScript, Ua};
use crate::speech_code::Decoder;

/// How often the INVITE goes again until a provisional answer (RFC 3261's T1, doubled
/// no further: loopback loses nothing, a slow peer only needs reminding).
const INVITE_RESEND: Duration = Duration::from_millis(500);
/// How long the call may go unanswered before the phone gives up.
const ANSWER_WAIT: Duration = Duration::from_secs(30);

/// Who is called, and as whom.
#[derive(Debug, Clone)]
pub struct Dial {
    /// The SIP service called (livekit-sip's `127.0.0.1:<sip_port>`).
    pub to_addr: SocketAddr,
    /// The number dialed (the Request-URI's and To's user part).
    pub to: String,
    /// The caller's number (From's user part: the caller id).
    pub from: String,
}

/// How a placed call was answered.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DialOutcome {
    /// The provisional statuses seen (100, 180, 183).
    pub provisional: Vec<u16>,
    /// The final status (200, 486, ...); `None` while unanswered.
    pub status: Option<u16>,
}

/// A phone placing one call; stops when dropped.
pub struct CallingPhone {
    phone: Phone,
    outcome: Arc<Mutex<DialOutcome>>,
}

impl std::fmt::Debug for CallingPhone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallingPhone")
            .field("port", &self.phone.port)
            .finish()
    }
}

impl CallingPhone {
    /// Places the call at once and follows `script` once it is answered.
    pub async fn dial(dial: Dial, script: PhoneScript) -> anyhow::Result<Self> {
        let sip = UdpSocket::bind("127.0.0.1:0").await?;
        let rtp = UdpSocket::bind("127.0.0.1:0").await?;
        let port = sip.local_addr()?.port();
        let report = Arc::new(Mutex::new(PhoneReport::default()));
        let outcome = Arc::new(Mutex::new(DialOutcome::default()));
        let ua = Ua {
            local: sip.local_addr()?,
            rtp_local: rtp.local_addr()?,
            sip,
            rtp,
            script,
            report: report.clone(),
            call: None,
        };
        let task = tokio::spawn(place(ua, dial, outcome.clone()));
        Ok(Self {
            phone: Phone {
                port,
                report,
                task,
                runtime: None,
            },
            outcome,
        })
    }

    /// What the phone did and heard.
    pub fn report(&self) -> PhoneReport {
        self.phone.report()
    }

    /// How the call was answered so far.
    pub fn outcome(&self) -> DialOutcome {
        self.outcome
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

/// Our side of the dialog, as sent in the INVITE.
struct Offer {
    call_id: String,
    from: String,
    to: String,
    uri: String,
    text: String,
}

impl Offer {
    fn new(ua: &Ua, dial: &Dial) -> Self {
        let n = rand_tag();
        let call_id = format!("dial-{n}-{}@{}", std::process::id(), ua.local);
        let host = dial.to_addr;
        let uri = format!("sip:{}@{host}", dial.to);
        let from = format!("<sip:{}@{}>;tag=caller{n}", dial.from, ua.local.ip());
        let to = format!("<sip:{}@{host}>", dial.to);
        let sdp = message::answer_sdp(ua.rtp_local, u64::from(n));
        let text = format!(
            "INVITE {uri} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bKdial{n}\r\n\
             Max-Forwards: 70\r\nFrom: {from}\r\nTo: {to}\r\nCall-ID: {call_id}\r\n\
             CSeq: 1 INVITE\r\nContact: <sip:{user}@{local}>\r\n\
             Content-Type: application/sdp\r\nContent-Length: {len}\r\n\r\n{sdp}",
            local = ua.local,
            user = dial.from,
            len = sdp.len(),
        );
        Self {
            call_id,
            from,
            to,
            uri,
            text,
        }
    }

    /// The ACK of a final answer: for a 2xx to its Contact with a new branch, for an
    /// error within the INVITE's transaction (same branch) — RFC 3261 17.1.1.3 and 13.2.2.4.
    fn ack(&self, answer: &SipMessage, local: SocketAddr) -> String {
        let to = answer.header("To").unwrap_or(&self.to);
        let (target, branch) = if answer.start.starts_with("SIP/2.0 2") {
            let target = answer
                .header("Contact")
                .map(SipMessage::uri_of)
                .unwrap_or_else(|| self.uri.clone());
            (target, format!("z9hG4bKack{}", rand_tag()))
        } else {
            let via = self.text.lines().nth(1).unwrap_or_default();
            let branch = via.split("branch=").nth(1).unwrap_or_default().to_string();
            (self.uri.clone(), branch)
        };
        format!(
            "ACK {target} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch={branch}\r\n\
             Max-Forwards: 70\r\nFrom: {from}\r\nTo: {to}\r\nCall-ID: {call_id}\r\n\
             CSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n",
            from = self.from,
            call_id = self.call_id,
        )
    }

    /// The dialog as the answering phone's code sees an INVITE it received: the far end's
    /// To (with its tag) as "From", ours as "To", its Contact as where a BYE goes. Its
    /// `bye` then writes our BYE with From and To the right way round.
    fn turned_around(&self, answer: &SipMessage) -> SipMessage {
        let header = |name: &str, value: &str| (name.to_string(), value.to_string());
        let mut headers = vec![
            header("From", answer.header("To").unwrap_or(&self.to)),
            header("To", &self.from),
            header("Call-ID", &self.call_id),
        ];
        if let Some(contact) = answer.header("Contact") {
            headers.push(header("Contact", contact));
        } else {
            headers.push(header("Contact", &format!("<{}>", self.uri)));
        }
        SipMessage {
            start: format!("INVITE {} SIP/2.0", self.uri),
            headers,
            body: String::new(),
        }
    }

    /// Our From tag (the turned-around dialog's "To" tag).
    fn tag(&self) -> String {
        self.from
            .split(";tag=")
            .nth(1)
            .unwrap_or_default()
            .to_string()
    }
}

/// Sends the INVITE, waits for the answer, then runs the conversation.
async fn place(mut ua: Ua, dial: Dial, outcome: Arc<Mutex<DialOutcome>>) {
    let offer = Offer::new(&ua, &dial);
    let started = Instant::now();
    let mut provisional = false;
    let mut last_sent: Option<Instant> = None;
    let mut buf = vec![0u8; 65_536];
    let answer = loop {
        if started.elapsed() > ANSWER_WAIT {
            return;
        }
        if !provisional && last_sent.is_none_or(|at| at.elapsed() >= INVITE_RESEND) {
            let _ = ua.sip.send_to(offer.text.as_bytes(), dial.to_addr).await;
            last_sent = Some(Instant::now());
        }
        let received =
            tokio::time::timeout(Duration::from_millis(50), ua.sip.recv_from(&mut buf)).await;
        let Ok(Ok((len, _))) = received else {
            continue;
        };
        let Some(message) = SipMessage::parse(&buf[..len]) else {
            continue;
        };
        if message.method().is_some() || message.header("Call-ID") != Some(offer.call_id.as_str()) {
            continue;
        }
        let Some(status) = status_of(&message) else {
            continue;
        };
        {
            let mut seen = outcome.lock().unwrap_or_else(|p| p.into_inner());
            if status < 200 {
                seen.provisional.push(status);
            } else {
                seen.status = Some(status);
            }
        }
        if status < 200 {
            provisional = true;
            continue;
        }
        let _ = ua
            .sip
            .send_to(offer.ack(&message, ua.local).as_bytes(), dial.to_addr)
            .await;
        if status >= 300 {
            return;
        }
        break message;
    };
    answered(&mut ua, &offer, &answer, dial.to_addr);
    // The far end resends its 200 until our ACK arrives: loopback delivers the first,
    // and the answering phone's loop ignores responses.
    ua.run().await;
}

/// Sets up the conversation the answering phone's loop then holds.
fn answered(ua: &mut Ua, offer: &Offer, answer: &SipMessage, far_end: SocketAddr) {
    let now = Instant::now();
    let mut report = lock(&ua.report);
    report.answered = true;
    report.answered_at = Some(now);
    drop(report);
    let hang_up_at = match (ua.script.replies.is_empty(), ua.script.hang_up_after_ms) {
        (true, Some(after)) => Some(now + Duration::from_millis(after)),
        _ => None,
    };
    ua.call = Some(Call {
        invite: offer.turned_around(answer),
        from: far_end,
        to_tag: offer.tag(),
        answer_at: now,
        answered_at: Some(now),
        ok: None,
        remote_rtp: answer.sdp_audio(),
        ended: false,
        seq: 1,
        timestamp: 0,
        ear: Decoder::new(8000),
        heard_new: 0,
        last_voice: None,
        mouth: Vec::new(),
        next_reply: 0,
        next_say: 0,
        hang_up_at,
        keys: Vec::new(),
        key: None,
        noise: super::NOISE_SEED,
    });
}

/// A response's status code.
fn status_of(message: &SipMessage) -> Option<u16> {
    message.start.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_turned_around_dialog_gives_a_callers_bye() {
        let sip = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let rtp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let ua = Ua {
            local: sip.local_addr().unwrap(),
            rtp_local: rtp.local_addr().unwrap(),
            sip,
            rtp,
            script: PhoneScript::default(),
            report: Arc::default(),
            call: None,
        };
        let dial = Dial {
            to_addr: "127.0.0.1:5060".parse().unwrap(),
            to: "+12125550100".into(),
            from: "+12123000001".into(),
        };
        let offer = Offer::new(&ua, &dial);
        let invite = SipMessage::parse(offer.text.as_bytes()).unwrap();
        assert_eq!(invite.method(), Some("INVITE"));
        assert_eq!(invite.sdp_audio(), Some(ua.rtp_local));
        let ok = invite.response(
            "200 OK",
            "lk1",
            Some("sip:lk@127.0.0.1:5060;transport=udp"),
            Some("v=0\r\nc=IN IP4 127.0.0.1\r\nm=audio 30000 RTP/AVP 0\r\n"),
        );
        let ok = SipMessage::parse(ok.as_bytes()).unwrap();
        assert_eq!(status_of(&ok), Some(200));
        let ack = SipMessage::parse(offer.ack(&ok, ua.local).as_bytes()).unwrap();
        assert!(ack
            .start
            .starts_with("ACK sip:lk@127.0.0.1:5060;transport=udp "));
        assert_eq!(
            ack.header("To"),
            Some("<sip:+12125550100@127.0.0.1:5060>;tag=lk1")
        );
        let bye = message::bye(&offer.turned_around(&ok), &offer.tag(), ua.local, 2);
        let bye = SipMessage::parse(bye.as_bytes()).unwrap();
        assert!(bye
            .start
            .starts_with("BYE sip:lk@127.0.0.1:5060;transport=udp "));
        assert_eq!(bye.header("From"), Some(offer.from.as_str()));
        assert_eq!(bye.header("To"), ok.header("To"));
        assert_eq!(bye.header("Call-ID"), Some(offer.call_id.as_str()));
    }
}
