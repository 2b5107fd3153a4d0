//! The LiveKit SIP path on the real rig: livekit-server, livekit-sip and sipp callees on
//! loopback. `rig` checks the rig itself speaks SIP as the product expects; the other
//! modules drive `livekit_sip` campaigns through the control plane.

#![allow(unreachable_pub)]

mod rig;
