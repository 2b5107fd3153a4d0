//! Where we may send a customer's requests: not into our own network. A URL whose host
//! is or resolves to a loopback, private, link-local (cloud metadata), shared, unspecified
//! or multicast address is refused at send time, unless the deployment allows it
//! (`webhooks.allow_private_targets`, for on-premises receivers and tests).

use std::net::IpAddr;

/// Checks `url` before a request; the reason when it must not be sent.
pub async fn check(url: &str, allow_private: bool) -> Result<(), String> {
    if allow_private {
        return Ok(());
    }
    let parsed = reqwest::Url::parse(url).map_err(|err| format!("bad URL: {err}"))?;
    let host = parsed.host_str().ok_or("the URL has no host")?;
    let port = parsed.port_or_known_default().unwrap_or(443);
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let addresses: Vec<IpAddr> = match host.parse::<IpAddr>() {
        Ok(ip) => vec![ip],
        Err(_) => tokio::net::lookup_host((host, port))
            .await
            .map_err(|err| format!("cannot resolve the endpoint's host: {err}"))?
            .map(|a| a.ip())
            .collect(),
    };
    match addresses.iter().find(|ip| !is_public(ip)) {
        Some(ip) => Err(format!(
            "the endpoint's address {ip} is not public (webhooks.allow_private_targets is off)"
        )),
        None => Ok(()),
    }
}

fn is_public(ip: &IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                // 100.64.0.0/10, carrier-grade NAT; 0.0.0.0/8.
                || (a == 100 && (64..128).contains(&b))
                || a == 0)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(&IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                // fc00::/7 unique local, fe80::/10 link-local.
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn internal_addresses_are_refused_unless_allowed() {
        for url in [
            "http://127.0.0.1:8080/hook",
            "http://10.1.2.3/hook",
            "http://169.254.169.254/latest/meta-data",
            "http://[::1]/hook",
            "http://[fd00::1]/hook",
            "http://[::ffff:192.168.0.1]/hook",
            "http://100.64.0.1/hook",
        ] {
            assert!(check(url, false).await.is_err(), "{url}");
            assert!(check(url, true).await.is_ok(), "{url}");
        }
        assert!(check("https://8.8.8.8/hook", false).await.is_ok());
        assert!(check("https://[2001:4860:4860::8888]/hook", false)
            .await
            .is_ok());
    }
}
