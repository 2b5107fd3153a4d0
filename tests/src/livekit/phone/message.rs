//! Just enough SIP (RFC 3261) for a callee over UDP: read a request, answer it with the
//! dialog headers copied back, and write the callee's own BYE.

use std::net::SocketAddr;

/// A parsed SIP message (request or response).
#[derive(Debug, Clone)]
pub(super) struct SipMessage {
    /// `INVITE sip:...@... SIP/2.0` or `SIP/2.0 200 OK`.
    pub(super) start: String,
    /// Headers in order, names as sent.
    pub(super) headers: Vec<(String, String)>,
    pub(super) body: String,
}

/// The long form of a compact header name.
fn long_name(name: &str) -> &str {
    match name {
        "v" | "V" => "Via",
        "f" | "F" => "From",
        "t" | "T" => "To",
        "i" | "I" => "Call-ID",
        "m" | "M" => "Contact",
        "l" | "L" => "Content-Length",
        "c" | "C" => "Content-Type",
        other => other,
    }
}

impl SipMessage {
    pub(super) fn parse(datagram: &[u8]) -> Option<Self> {
        let text = std::str::from_utf8(datagram).ok()?;
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((text, ""));
        let mut lines = head.split("\r\n");
        let start = lines.next()?.trim().to_string();
        let headers = lines
            .filter_map(|line| line.split_once(':'))
            .map(|(name, value)| (long_name(name.trim()).to_string(), value.trim().to_string()))
            .collect();
        Some(Self {
            start,
            headers,
            body: body.to_string(),
        })
    }

    /// The request's method (`None` for a response).
    pub(super) fn method(&self) -> Option<&str> {
        if self.start.starts_with("SIP/2.0") {
            return None;
        }
        self.start.split_whitespace().next()
    }

    /// The first header called `name` (any case).
    pub(super) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// A response to this request: Via, From, To (with `to_tag` added if it has none),
    /// Call-ID and CSeq copied back.
    pub(super) fn response(
        &self,
        status: &str,
        to_tag: &str,
        contact: Option<&str>,
        sdp: Option<&str>,
    ) -> String {
        let mut out = format!("SIP/2.0 {status}\r\n");
        for via in self.all("Via") {
            out.push_str(&format!("Via: {via}\r\n"));
        }
        let from = self.header("From").unwrap_or_default();
        let mut to = self.header("To").unwrap_or_default().to_string();
        if !to.contains(";tag=") {
            to.push_str(&format!(";tag={to_tag}"));
        }
        out.push_str(&format!("From: {from}\r\nTo: {to}\r\n"));
        for name in ["Call-ID", "CSeq"] {
            out.push_str(&format!(
                "{name}: {}\r\n",
                self.header(name).unwrap_or_default()
            ));
        }
        if let Some(contact) = contact {
            out.push_str(&format!("Contact: <{contact}>\r\n"));
        }
        finish(out, sdp)
    }

    /// The remote RTP address the SDP offers (`c=` and `m=audio`).
    pub(super) fn sdp_audio(&self) -> Option<SocketAddr> {
        let mut ip = None;
        let mut port = None;
        for line in self.body.lines() {
            if let Some(rest) = line.strip_prefix("c=IN IP4 ") {
                ip = rest.trim().parse::<std::net::Ipv4Addr>().ok();
            }
            if let Some(rest) = line.strip_prefix("m=audio ") {
                port = rest.split_whitespace().next()?.parse::<u16>().ok();
            }
        }
        Some(SocketAddr::from((ip?, port?)))
    }

    /// The URI inside `<...>` of a header (Contact), or its value.
    pub(super) fn uri_of(value: &str) -> String {
        match (value.find('<'), value.find('>')) {
            (Some(a), Some(b)) if a < b => value[a + 1..b].to_string(),
            _ => value.split(';').next().unwrap_or(value).trim().to_string(),
        }
    }
}

/// Appends Content-Length (and the body).
fn finish(mut out: String, sdp: Option<&str>) -> String {
    match sdp {
        Some(sdp) => {
            out.push_str(&format!(
                "Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
                sdp.len()
            ));
        }
        None => out.push_str("Content-Length: 0\r\n\r\n"),
    }
    out
}

/// Our answer: PCMU, 20 ms, and telephone-event for keys.
pub(super) fn answer_sdp(rtp: SocketAddr, session: u64) -> String {
    format!(
        "v=0\r\no=callee {session} {session} IN IP4 {ip}\r\ns=callee\r\nc=IN IP4 {ip}\r\n\
         t=0 0\r\nm=audio {port} RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\n\
         a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=ptime:20\r\na=sendrecv\r\n",
        ip = rtp.ip(),
        port = rtp.port()
    )
}

/// The callee's BYE within the dialog the INVITE opened (we are its UAS: From and To
/// swap, the request goes to the caller's Contact).
pub(super) fn bye(invite: &SipMessage, to_tag: &str, local: SocketAddr, cseq: u32) -> String {
    let target = invite
        .header("Contact")
        .map(SipMessage::uri_of)
        .unwrap_or_default();
    let from = invite.header("From").unwrap_or_default();
    let mut to = invite.header("To").unwrap_or_default().to_string();
    if !to.contains(";tag=") {
        to.push_str(&format!(";tag={to_tag}"));
    }
    let out = format!(
        "BYE {target} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bK{cseq}{to_tag}\r\n\
         Max-Forwards: 70\r\nFrom: {to}\r\nTo: {from}\r\nCall-ID: {}\r\nCSeq: {cseq} BYE\r\n",
        invite.header("Call-ID").unwrap_or_default()
    );
    finish(out, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    const INVITE: &str = "INVITE sip:+12125550100@127.0.0.1:5090 SIP/2.0\r\n\
        Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKabc\r\n\
        f: <sip:+15550001@lk>;tag=caller1\r\nTo: <sip:+12125550100@127.0.0.1>\r\n\
        Call-ID: call-1\r\nCSeq: 1 INVITE\r\nContact: <sip:lk@127.0.0.1:5060;transport=udp>\r\n\
        Content-Length: 60\r\n\r\nv=0\r\nc=IN IP4 127.0.0.1\r\nm=audio 20000 RTP/AVP 0 101\r\n";

    #[test]
    fn an_invite_is_read_and_answered_in_its_dialog() {
        let invite = SipMessage::parse(INVITE.as_bytes()).unwrap();
        assert_eq!(invite.method(), Some("INVITE"));
        assert_eq!(
            invite.header("from"),
            Some("<sip:+15550001@lk>;tag=caller1")
        );
        assert_eq!(invite.sdp_audio(), Some("127.0.0.1:20000".parse().unwrap()));
        let ok = invite.response(
            "200 OK",
            "me",
            Some("sip:callee@127.0.0.1:5090"),
            Some("v=0\r\n"),
        );
        let parsed = SipMessage::parse(ok.as_bytes()).unwrap();
        assert_eq!(parsed.method(), None);
        assert_eq!(
            parsed.header("To"),
            Some("<sip:+12125550100@127.0.0.1>;tag=me")
        );
        assert_eq!(parsed.header("CSeq"), Some("1 INVITE"));
        assert_eq!(parsed.body, "v=0\r\n");
        let bye = bye(&invite, "me", "127.0.0.1:5090".parse().unwrap(), 2);
        assert!(bye.starts_with("BYE sip:lk@127.0.0.1:5060;transport=udp SIP/2.0\r\n"));
        let parsed = SipMessage::parse(bye.as_bytes()).unwrap();
        assert_eq!(
            parsed.header("From"),
            Some("<sip:+12125550100@127.0.0.1>;tag=me")
        );
        assert_eq!(parsed.header("To"), Some("<sip:+15550001@lk>;tag=caller1"));
    }
}
