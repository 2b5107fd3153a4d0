//! A carrier with many callees behind one address: a campaign's `livekit_sip` trunk has a
//! single SIP address, so a campaign whose contacts must meet different callees (one
//! talks, one is busy, one never answers, one is a machine) dials this router, which
//! sends each INVITE on to the callee registered for the number it is addressed to, and
//! everything else of that dialog (CANCEL, in-dialog requests, responses) along the same
//! path by its Call-ID.
//!
//! Each callee is reached from a socket of its own, so whatever arrives on that socket is
//! the callee's and goes back to the address its INVITE came from. Callees that name
//! themselves in `Contact` (our phone does) get their in-dialog requests straight from
//! livekit-sip; the router only sees what is sent to its address. RTP never passes
//! through it (the SDP names each end's own media address).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::UdpSocket;
use tokio::task::JoinHandle;

/// A running router; stops when dropped.
pub struct SipRouter {
    /// Its SIP port on 127.0.0.1: the trunk's address is `127.0.0.1:<port>`.
    pub port: u16,
    tasks: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for SipRouter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SipRouter")
            .field("port", &self.port)
            .finish()
    }
}

impl Drop for SipRouter {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// One callee: the number it answers, where it listens, and our socket towards it.
struct Route {
    number: String,
    target: SocketAddr,
    socket: Arc<UdpSocket>,
}

impl SipRouter {
    /// Routes INVITEs for each `(number, port)` to the callee on `127.0.0.1:<port>`; the
    /// number is matched on its digits, so `+12125550100` and `12125550100` are one.
    pub async fn start(routes: &[(&str, u16)]) -> anyhow::Result<Self> {
        let front = Arc::new(UdpSocket::bind("127.0.0.1:0").await?);
        let port = front.local_addr()?.port();
        let mut built = Vec::new();
        for (number, callee_port) in routes {
            built.push(Route {
                number: digits(number),
                target: SocketAddr::from(([127, 0, 0, 1], *callee_port)),
                socket: Arc::new(UdpSocket::bind("127.0.0.1:0").await?),
            });
        }
        let routes = Arc::new(built);
        // Call-ID -> (route, the address its INVITE came from).
        let dialogs = Arc::new(std::sync::Mutex::new(
            HashMap::<String, (usize, SocketAddr)>::new(),
        ));
        let mut tasks = vec![tokio::spawn(forward_in(
            front.clone(),
            routes.clone(),
            dialogs.clone(),
        ))];
        for index in 0..routes.len() {
            tasks.push(tokio::spawn(forward_back(
                front.clone(),
                routes.clone(),
                index,
                dialogs.clone(),
            )));
        }
        Ok(Self { port, tasks })
    }
}

type Dialogs = Arc<std::sync::Mutex<HashMap<String, (usize, SocketAddr)>>>;

/// From the caller (livekit-sip) to the callee its dialog belongs to.
async fn forward_in(front: Arc<UdpSocket>, routes: Arc<Vec<Route>>, dialogs: Dialogs) {
    let mut buf = vec![0u8; 65_536];
    loop {
        let Ok((len, from)) = front.recv_from(&mut buf).await else {
            continue;
        };
        let text = String::from_utf8_lossy(&buf[..len]).to_string();
        let Some(call_id) = header(&text, &["call-id", "i"]) else {
            continue;
        };
        let route = {
            let mut dialogs = dialogs.lock().unwrap_or_else(|p| p.into_inner());
            match dialogs.get(&call_id) {
                Some((route, _)) => Some(*route),
                None => request_user(&text)
                    .and_then(|user| routes.iter().position(|r| r.number == digits(&user)))
                    .inspect(|&route| {
                        dialogs.insert(call_id.clone(), (route, from));
                    }),
            }
        };
        match route {
            Some(route) => {
                let route = &routes[route];
                let _ = route.socket.send_to(&buf[..len], route.target).await;
            }
            None => {
                // A number nobody answers: what a carrier says to it.
                if text.starts_with("INVITE ") {
                    let reply = not_found(&text);
                    let _ = front.send_to(reply.as_bytes(), from).await;
                }
            }
        }
    }
}

/// From one callee back to the caller of its dialog.
async fn forward_back(
    front: Arc<UdpSocket>,
    routes: Arc<Vec<Route>>,
    index: usize,
    dialogs: Dialogs,
) {
    let socket = routes[index].socket.clone();
    let mut buf = vec![0u8; 65_536];
    loop {
        let Ok((len, _)) = socket.recv_from(&mut buf).await else {
            continue;
        };
        let text = String::from_utf8_lossy(&buf[..len]);
        let Some(call_id) = header(&text, &["call-id", "i"]) else {
            continue;
        };
        let caller = dialogs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&call_id)
            .map(|(_, caller)| *caller);
        if let Some(caller) = caller {
            let _ = front.send_to(&buf[..len], caller).await;
        }
    }
}

/// The value of the first header named one of `names` (case-insensitive, compact forms
/// included).
fn header(message: &str, names: &[&str]) -> Option<String> {
    message.lines().skip(1).find_map(|line| {
        let (name, value) = line.split_once(':')?;
        names
            .iter()
            .any(|n| name.trim().eq_ignore_ascii_case(n))
            .then(|| value.trim().to_string())
    })
}

/// The user part of a request's URI (`INVITE sip:+1212...@host SIP/2.0`).
fn request_user(message: &str) -> Option<String> {
    let line = message.lines().next()?;
    let uri = line.split_whitespace().nth(1)?;
    let uri = uri
        .strip_prefix("sip:")
        .or_else(|| uri.strip_prefix("sips:"))?;
    Some(uri.split('@').next()?.to_string())
}

fn digits(number: &str) -> String {
    number.chars().filter(char::is_ascii_digit).collect()
}

/// A 404 to an INVITE for a number without a callee.
fn not_found(invite: &str) -> String {
    let mut reply = String::from("SIP/2.0 404 Not Found\r\n");
    for line in invite.lines().skip(1) {
        let name = line.split(':').next().unwrap_or_default().trim();
        let copy = ["via", "v", "from", "f", "to", "t", "call-id", "i", "cseq"]
            .iter()
            .any(|n| name.eq_ignore_ascii_case(n));
        if copy {
            reply.push_str(line);
            reply.push_str("\r\n");
        }
    }
    reply.push_str("Content-Length: 0\r\n\r\n");
    reply
}

#[cfg(test)]
mod tests {
    use super::*;

    const INVITE: &str = "INVITE sip:+12123000002@127.0.0.1:5060 SIP/2.0\r\n\
        Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1\r\n\
        From: <sip:agent@x>;tag=1\r\nTo: <sip:+12123000002@x>\r\n\
        i: abc@host\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n";

    #[test]
    fn invites_are_told_apart_by_number_and_dialogs_by_call_id() {
        assert_eq!(request_user(INVITE).as_deref(), Some("+12123000002"));
        assert_eq!(digits("+1 (212) 300-0002"), "12123000002");
        assert_eq!(
            header(INVITE, &["call-id", "i"]).as_deref(),
            Some("abc@host")
        );
        assert_eq!(header(INVITE, &["cseq"]).as_deref(), Some("1 INVITE"));
        let reply = not_found(INVITE);
        assert!(reply.starts_with("SIP/2.0 404 Not Found\r\n"));
        assert!(reply.contains("i: abc@host\r\n") && reply.contains("branch=z9hG4bK1"));
    }
}
