//! Serial over LAN: the payload activation commands (App net function 0x06; IPMI v2.0
//! section 24) for payload type SOL, and the SOL payload codec (section 15.9).
//!
//! ```
//! use ipmi_proto::cmd::sol::SolPacket;
//! let p = SolPacket::data(1, b"ls\r".to_vec());
//! let mut out = bytes::BytesMut::new();
//! p.emit(&mut out);
//! assert_eq!(&out[..], &[0x01, 0x00, 0x00, 0x00, b'l', b's', b'\r']);
//! assert_eq!(SolPacket::parse(&out).unwrap(), p);
//! ```

use bytes::{BufMut, BytesMut};

use super::{Request, Response};
use crate::error::Result;
use crate::message::NetFn;
use crate::wire::{self, array, le_u16, u8_};

/// The payload type number of SOL.
pub const PAYLOAD_TYPE_SOL: u8 = 1;

/// What happens to serial/modem alerts while SOL is active (aux data bits 3:2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SerialAlerts {
    /// 00b: alerts fail while SOL is active.
    Fail,
    /// 01b: alerts are deferred until SOL is deactivated.
    Deferred,
    /// 10b: alerts succeed while SOL is active.
    Succeed,
    /// 11b: reserved.
    Reserved,
}

impl SerialAlerts {
    fn from_bits(v: u8) -> Self {
        match v & 3 {
            0 => Self::Fail,
            1 => Self::Deferred,
            2 => Self::Succeed,
            _ => Self::Reserved,
        }
    }

    fn bits(self) -> u8 {
        match self {
            Self::Fail => 0,
            Self::Deferred => 1,
            Self::Succeed => 2,
            Self::Reserved => 3,
        }
    }
}

/// The SOL auxiliary request data of Activate Payload (the first aux byte; the other three
/// are reserved and sent as 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SolActivation {
    /// Bit 7: activate with encryption (if the session negotiated confidentiality).
    pub encryption: bool,
    /// Bit 6: activate with authentication (integrity).
    pub authentication: bool,
    /// Bit 5: test mode (loop back; no serial port).
    pub test_mode: bool,
    /// Bits 3:2: serial/modem alert behaviour.
    pub serial_alerts: SerialAlerts,
    /// Bit 1: CTS and DCD/DSR stay deasserted after activation until the console asserts
    /// them with a SOL packet (otherwise the BMC asserts them on activation).
    pub handshake_deasserted: bool,
}

impl Default for SolActivation {
    /// Encrypted, authenticated, alerts deferred: what ipmitool asks for.
    fn default() -> Self {
        SolActivation {
            encryption: true,
            authentication: true,
            test_mode: false,
            serial_alerts: SerialAlerts::Deferred,
            handshake_deasserted: false,
        }
    }
}

impl SolActivation {
    /// Decode the aux byte.
    pub fn from_u8(v: u8) -> Self {
        SolActivation {
            encryption: v & 0x80 != 0,
            authentication: v & 0x40 != 0,
            test_mode: v & 0x20 != 0,
            serial_alerts: SerialAlerts::from_bits(v >> 2),
            handshake_deasserted: v & 0x02 != 0,
        }
    }

    /// The aux byte.
    pub fn to_u8(self) -> u8 {
        (u8::from(self.encryption) << 7)
            | (u8::from(self.authentication) << 6)
            | (u8::from(self.test_mode) << 5)
            | (self.serial_alerts.bits() << 2)
            | (u8::from(self.handshake_deasserted) << 1)
    }
}

/// Activate Payload (App 0x48).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActivatePayload {
    /// Payload type (6 bits; [`PAYLOAD_TYPE_SOL`]).
    pub payload_type: u8,
    /// Payload instance (4 bits, from 1).
    pub instance: u8,
    /// The first aux data byte, as SOL defines it (OEM payload types define their own).
    pub activation: SolActivation,
}

impl ActivatePayload {
    /// Activate SOL instance `instance`.
    pub fn sol(instance: u8, activation: SolActivation) -> Self {
        ActivatePayload {
            payload_type: PAYLOAD_TYPE_SOL,
            instance,
            activation,
        }
    }
}

/// The Activate Payload response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PayloadActivated {
    /// Auxiliary response data (reserved for SOL).
    pub aux: [u8; 4],
    /// Largest payload the BMC accepts (console to BMC).
    pub inbound_size: u16,
    /// Largest payload the BMC sends.
    pub outbound_size: u16,
    /// UDP port to send the payload to (usually 623).
    pub port: u16,
    /// VLAN number (0xFFFF when VLAN addressing is not used).
    pub vlan: u16,
}

impl PayloadActivated {
    /// The VLAN id, when VLAN addressing is used.
    pub fn vlan_id(&self) -> Option<u16> {
        (self.vlan != 0xffff).then_some(self.vlan & 0x0fff)
    }
}

impl Request for ActivatePayload {
    type Response = PayloadActivated;
    const NETFN: NetFn = NetFn::App;
    const CMD: u8 = 0x48;
    fn emit(&self, out: &mut BytesMut) {
        out.put_u8(self.payload_type & 0x3f);
        out.put_u8(self.instance & 0x0f);
        out.put_slice(&[self.activation.to_u8(), 0, 0, 0]);
    }
    fn parse(data: &[u8]) -> Result<Self> {
        let what = "Activate Payload request";
        let (i, payload_type) = wire::ctx(what, u8_(data))?;
        let (i, instance) = wire::ctx(what, u8_(i))?;
        let (_, aux) = wire::ctx(what, array::<4>(i))?;
        let [aux0, ..] = aux;
        Ok(ActivatePayload {
            payload_type: payload_type & 0x3f,
            instance: instance & 0x0f,
            activation: SolActivation::from_u8(aux0),
        })
    }
}

impl Response for PayloadActivated {
    fn parse(data: &[u8]) -> Result<Self> {
        let what = "Activate Payload response";
        let (i, aux) = wire::ctx(what, array::<4>(data))?;
        let (i, inbound_size) = wire::ctx(what, le_u16(i))?;
        let (i, outbound_size) = wire::ctx(what, le_u16(i))?;
        let (i, port) = wire::ctx(what, le_u16(i))?;
        // Some BMCs leave the VLAN number out.
        let vlan = le_u16(i).map_or(0xffff, |(_, v)| v);
        Ok(PayloadActivated {
            aux,
            inbound_size,
            outbound_size,
            port,
            vlan,
        })
    }
    fn emit(&self, out: &mut BytesMut) {
        out.put_slice(&self.aux);
        out.put_u16_le(self.inbound_size);
        out.put_u16_le(self.outbound_size);
        out.put_u16_le(self.port);
        out.put_u16_le(self.vlan);
    }
}

/// Deactivate Payload (App 0x49).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeactivatePayload {
    /// Payload type (6 bits).
    pub payload_type: u8,
    /// Payload instance (4 bits).
    pub instance: u8,
}

impl DeactivatePayload {
    /// Deactivate SOL instance `instance`.
    pub fn sol(instance: u8) -> Self {
        DeactivatePayload {
            payload_type: PAYLOAD_TYPE_SOL,
            instance,
        }
    }
}

impl Request for DeactivatePayload {
    type Response = ();
    const NETFN: NetFn = NetFn::App;
    const CMD: u8 = 0x49;
    fn emit(&self, out: &mut BytesMut) {
        out.put_u8(self.payload_type & 0x3f);
        out.put_u8(self.instance & 0x0f);
        out.put_slice(&[0, 0, 0, 0]);
    }
    fn parse(data: &[u8]) -> Result<Self> {
        let what = "Deactivate Payload request";
        let (i, payload_type) = wire::ctx(what, u8_(data))?;
        let (_, instance) = wire::ctx(what, u8_(i))?;
        // The four aux bytes are reserved; accept requests without them.
        Ok(DeactivatePayload {
            payload_type: payload_type & 0x3f,
            instance: instance & 0x0f,
        })
    }
}

/// Get Payload Activation Status (App 0x4A).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GetPayloadActivationStatus {
    /// Payload type (6 bits).
    pub payload_type: u8,
}

/// The Get Payload Activation Status response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PayloadActivationStatus {
    /// How many instances of the payload may be active at once (4 bits).
    pub capacity: u8,
    /// Active instances: bit 0 is instance 1 ... bit 15 instance 16.
    pub active: u16,
}

impl PayloadActivationStatus {
    /// Whether instance `instance` (1..=16) is active.
    pub fn is_active(&self, instance: u8) -> bool {
        (1..=16).contains(&instance) && self.active & (1 << (instance - 1)) != 0
    }

    /// The lowest instance (1..=capacity) that is not active, if any.
    pub fn free_instance(&self) -> Option<u8> {
        (1..=self.capacity.min(16)).find(|i| !self.is_active(*i))
    }
}

impl Request for GetPayloadActivationStatus {
    type Response = PayloadActivationStatus;
    const NETFN: NetFn = NetFn::App;
    const CMD: u8 = 0x4a;
    fn emit(&self, out: &mut BytesMut) {
        out.put_u8(self.payload_type & 0x3f);
    }
    fn parse(data: &[u8]) -> Result<Self> {
        let (_, t) = wire::ctx("Get Payload Activation Status request", u8_(data))?;
        Ok(GetPayloadActivationStatus {
            payload_type: t & 0x3f,
        })
    }
}

impl Response for PayloadActivationStatus {
    fn parse(data: &[u8]) -> Result<Self> {
        let what = "Get Payload Activation Status response";
        let (i, capacity) = wire::ctx(what, u8_(data))?;
        let (_, active) = wire::ctx(what, le_u16(i))?;
        Ok(PayloadActivationStatus {
            capacity: capacity & 0x0f,
            active,
        })
    }
    fn emit(&self, out: &mut BytesMut) {
        out.put_u8(self.capacity & 0x0f);
        out.put_u16_le(self.active);
    }
}

// ---------------------------------------------------------------------------------------------
// The SOL payload
// ---------------------------------------------------------------------------------------------

/// The operation bits of a console-to-BMC SOL packet (byte 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SolOperation {
    /// Bit 6: NACK (the packet being acknowledged was not accepted).
    pub nack: bool,
    /// Bit 5: assert RI (ring indicate / wake on ring).
    pub ring_wor: bool,
    /// Bit 4: generate a serial break.
    pub generate_break: bool,
    /// Bit 3: deassert CTS to the baseboard (pause).
    pub cts_pause: bool,
    /// Bit 2: drop DCD/DSR.
    pub drop_dcd_dsr: bool,
    /// Bit 1: flush the inbound (BMC to serial) buffer.
    pub flush_inbound: bool,
    /// Bit 0: flush the outbound (serial to BMC) buffer.
    pub flush_outbound: bool,
}

impl SolOperation {
    /// Decode the byte (bit 7 is reserved).
    pub fn from_u8(v: u8) -> Self {
        SolOperation {
            nack: v & 0x40 != 0,
            ring_wor: v & 0x20 != 0,
            generate_break: v & 0x10 != 0,
            cts_pause: v & 0x08 != 0,
            drop_dcd_dsr: v & 0x04 != 0,
            flush_inbound: v & 0x02 != 0,
            flush_outbound: v & 0x01 != 0,
        }
    }

    /// The byte.
    pub fn to_u8(self) -> u8 {
        (u8::from(self.nack) << 6)
            | (u8::from(self.ring_wor) << 5)
            | (u8::from(self.generate_break) << 4)
            | (u8::from(self.cts_pause) << 3)
            | (u8::from(self.drop_dcd_dsr) << 2)
            | (u8::from(self.flush_inbound) << 1)
            | u8::from(self.flush_outbound)
    }
}

/// The status bits of a BMC-to-console SOL packet (byte 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SolStatus {
    /// Bit 6: NACK (the packet being acknowledged was not accepted).
    pub nack: bool,
    /// Bit 5: character transfer is unavailable (the console should retry later).
    pub transfer_unavailable: bool,
    /// Bit 4: SOL is deactivating (or inactive).
    pub deactivating: bool,
    /// Bit 3: characters were dropped (transmit overrun).
    pub transmit_overrun: bool,
    /// Bit 2: a break was detected on the serial port.
    pub break_detected: bool,
}

impl SolStatus {
    /// Decode the byte (bits 7, 1 and 0 are reserved).
    pub fn from_u8(v: u8) -> Self {
        SolStatus {
            nack: v & 0x40 != 0,
            transfer_unavailable: v & 0x20 != 0,
            deactivating: v & 0x10 != 0,
            transmit_overrun: v & 0x08 != 0,
            break_detected: v & 0x04 != 0,
        }
    }

    /// The byte.
    pub fn to_u8(self) -> u8 {
        (u8::from(self.nack) << 6)
            | (u8::from(self.transfer_unavailable) << 5)
            | (u8::from(self.deactivating) << 4)
            | (u8::from(self.transmit_overrun) << 3)
            | (u8::from(self.break_detected) << 2)
    }
}

/// A SOL payload (IPMI v2.0 table 15-2): sequence numbers, accepted character count, the
/// operation/status byte and character data. The operation/status byte means
/// [`SolOperation`] from the console and [`SolStatus`] from the BMC; it is kept raw here.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SolPacket {
    /// Packet sequence number (4 bits, 1..=15); 0 marks an ack-only packet without data.
    pub sequence: u8,
    /// Sequence number of the packet being acknowledged or NACKed (4 bits); 0 when this packet
    /// acknowledges nothing.
    pub ack_sequence: u8,
    /// Characters accepted from the acknowledged packet.
    pub accepted_chars: u8,
    /// Operation (console to BMC) or status (BMC to console) byte.
    pub control: u8,
    /// Character data.
    pub data: Vec<u8>,
}

impl SolPacket {
    /// Length of the header before the character data.
    pub const HEADER_LEN: usize = 4;

    /// A packet carrying `data` with sequence number `sequence`, acknowledging nothing.
    pub fn data(sequence: u8, data: Vec<u8>) -> Self {
        SolPacket {
            sequence: sequence & 0x0f,
            ack_sequence: 0,
            accepted_chars: 0,
            control: 0,
            data,
        }
    }

    /// An ack-only packet: `accepted` characters of packet `ack_sequence` were taken.
    pub fn ack(ack_sequence: u8, accepted: u8) -> Self {
        SolPacket {
            sequence: 0,
            ack_sequence: ack_sequence & 0x0f,
            accepted_chars: accepted,
            control: 0,
            data: Vec::new(),
        }
    }

    /// Whether the packet only acknowledges (sequence 0).
    pub fn is_ack_only(&self) -> bool {
        self.sequence == 0
    }

    /// Whether the acknowledgement is a NACK (bit 6 in both directions).
    pub fn is_nack(&self) -> bool {
        self.control & 0x40 != 0
    }

    /// The control byte read as console operations.
    pub fn operation(&self) -> SolOperation {
        SolOperation::from_u8(self.control)
    }

    /// The control byte read as BMC status.
    pub fn status(&self) -> SolStatus {
        SolStatus::from_u8(self.control)
    }

    /// Parse a SOL payload. A data-carrying packet with sequence 0 is accepted as is; the
    /// receiver should treat it as ack-only.
    pub fn parse(data: &[u8]) -> Result<Self> {
        let what = "SOL payload";
        let (rest, [sequence, ack_sequence, accepted_chars, control]) =
            wire::ctx(what, array::<4>(data))?;
        Ok(SolPacket {
            sequence: sequence & 0x0f,
            ack_sequence: ack_sequence & 0x0f,
            accepted_chars,
            control,
            data: rest.to_vec(),
        })
    }

    /// Append the payload.
    pub fn emit(&self, out: &mut BytesMut) {
        out.put_u8(self.sequence & 0x0f);
        out.put_u8(self.ack_sequence & 0x0f);
        out.put_u8(self.accepted_chars);
        out.put_u8(self.control);
        out.put_slice(&self.data);
    }
}

/// The sequence number after `seq` (1..=15, wrapping past 0, which is reserved for ack-only
/// packets).
pub fn next_sequence(seq: u8) -> u8 {
    (seq & 0x0f) % 15 + 1
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;
    use proptest::prelude::*;

    fn rt<T: Response + PartialEq + std::fmt::Debug>(v: &T) {
        let mut b = BytesMut::new();
        v.emit(&mut b);
        assert_eq!(&T::parse(&b).expect("parse"), v);
    }

    fn req_rt<T: Request + PartialEq + std::fmt::Debug>(v: &T) -> Vec<u8> {
        let mut b = BytesMut::new();
        v.emit(&mut b);
        assert_eq!(&T::parse(&b).expect("parse"), v);
        b.to_vec()
    }

    #[test]
    fn activate_known_answer() {
        // ipmitool sol activate: type 1, instance 1, encrypted + authenticated, alerts deferred.
        let a = ActivatePayload::sol(1, SolActivation::default());
        assert_eq!(req_rt(&a), vec![0x01, 0x01, 0xc4, 0x00, 0x00, 0x00]);
        let a = ActivatePayload::sol(
            2,
            SolActivation {
                encryption: false,
                authentication: true,
                test_mode: true,
                serial_alerts: SerialAlerts::Succeed,
                handshake_deasserted: true,
            },
        );
        assert_eq!(req_rt(&a), vec![0x01, 0x02, 0x6a, 0x00, 0x00, 0x00]);
        assert!(matches!(
            ActivatePayload::parse(&[0x01, 0x01, 0xc0]),
            Err(Error::Truncated { .. })
        ));

        // Response: reserved aux, 252-byte payloads both ways, port 623, no VLAN.
        let r =
            PayloadActivated::parse(&[0, 0, 0, 0, 0xfc, 0x00, 0xfc, 0x00, 0x6f, 0x02, 0xff, 0xff])
                .expect("parse");
        assert_eq!(r.inbound_size, 252);
        assert_eq!(r.outbound_size, 252);
        assert_eq!(r.port, 623);
        assert_eq!(r.vlan_id(), None);
        rt(&r);
        // Without the VLAN bytes.
        let r = PayloadActivated::parse(&[0, 0, 0, 0, 0xfc, 0x00, 0xfc, 0x00, 0x6f, 0x02])
            .expect("parse");
        assert_eq!(r.vlan, 0xffff);
        let r = PayloadActivated::parse(&[0, 0, 0, 0, 0xfc, 0, 0xfc, 0, 0x6f, 0x02, 0x64, 0x00])
            .expect("parse");
        assert_eq!(r.vlan_id(), Some(100));
        assert!(PayloadActivated::parse(&[0, 0, 0, 0, 0xfc]).is_err());
    }

    #[test]
    fn deactivate_and_status_known_answer() {
        assert_eq!(
            req_rt(&DeactivatePayload::sol(1)),
            vec![0x01, 0x01, 0, 0, 0, 0]
        );
        assert_eq!(
            DeactivatePayload::parse(&[0x01, 0x01]).expect("parse"),
            DeactivatePayload::sol(1)
        );
        assert_eq!(
            req_rt(&GetPayloadActivationStatus {
                payload_type: PAYLOAD_TYPE_SOL
            }),
            vec![0x01]
        );
        let s = PayloadActivationStatus::parse(&[0x02, 0x01, 0x00]).expect("parse");
        assert_eq!(s.capacity, 2);
        assert!(s.is_active(1));
        assert!(!s.is_active(2));
        assert!(!s.is_active(0) && !s.is_active(17));
        assert_eq!(s.free_instance(), Some(2));
        rt(&s);
        let full = PayloadActivationStatus {
            capacity: 1,
            active: 1,
        };
        assert_eq!(full.free_instance(), None);
    }

    #[test]
    fn sol_packet_known_answers() {
        // BMC: packet 3 with "ok", acknowledging our packet 2 (2 chars), transfer unavailable.
        let p = SolPacket::parse(&[0x03, 0x02, 0x02, 0x20, b'o', b'k']).expect("parse");
        assert_eq!(p.sequence, 3);
        assert_eq!(p.ack_sequence, 2);
        assert_eq!(p.accepted_chars, 2);
        assert!(p.status().transfer_unavailable);
        assert!(!p.is_nack() && !p.is_ack_only());
        assert_eq!(p.data, b"ok".to_vec());

        // Console: ack-only for packet 3, 2 chars.
        let mut b = BytesMut::new();
        SolPacket::ack(3, 2).emit(&mut b);
        assert_eq!(&b[..], &[0x00, 0x03, 0x02, 0x00]);

        // Console: send a break and flush both buffers.
        let op = SolOperation {
            generate_break: true,
            flush_inbound: true,
            flush_outbound: true,
            ..SolOperation::default()
        };
        assert_eq!(op.to_u8(), 0x13);
        let mut p = SolPacket::data(4, vec![]);
        p.control = op.to_u8();
        assert_eq!(p.operation(), op);

        // BMC: NACK, deactivating, overrun, break.
        let s = SolStatus::from_u8(0x5c);
        assert!(s.nack && s.deactivating && s.transmit_overrun && s.break_detected);
        assert!(!s.transfer_unavailable);
        assert_eq!(s.to_u8(), 0x5c);
        assert_eq!(SolOperation::from_u8(0x7f).to_u8(), 0x7f);

        assert!(matches!(
            SolPacket::parse(&[0x01, 0x00, 0x00]),
            Err(Error::Truncated {
                what: "SOL payload"
            })
        ));
        assert_eq!(next_sequence(1), 2);
        assert_eq!(next_sequence(15), 1);
        assert_eq!(next_sequence(0), 1);
    }

    proptest! {
        #[test]
        fn parsers_never_panic(data in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = SolPacket::parse(&data);
            let _ = PayloadActivated::parse(&data);
            let _ = PayloadActivationStatus::parse(&data);
            let _ = ActivatePayload::parse(&data);
            let _ = DeactivatePayload::parse(&data);
            let _ = GetPayloadActivationStatus::parse(&data);
            if let Some(b) = data.first() {
                let _ = SolActivation::from_u8(*b);
                let _ = SolOperation::from_u8(*b);
                let _ = SolStatus::from_u8(*b);
                let _ = next_sequence(*b);
            }
        }

        #[test]
        fn packets_round_trip(seq in 0u8..16, ack in 0u8..16, acc in any::<u8>(),
                              control in any::<u8>(), data in proptest::collection::vec(any::<u8>(), 0..256)) {
            let p = SolPacket { sequence: seq, ack_sequence: ack, accepted_chars: acc, control, data };
            let mut b = BytesMut::new();
            p.emit(&mut b);
            prop_assert_eq!(b.len(), SolPacket::HEADER_LEN + p.data.len());
            prop_assert_eq!(SolPacket::parse(&b).expect("parse"), p);
        }

        #[test]
        fn commands_round_trip(pt in 0u8..64, inst in 0u8..16, aux in any::<u8>(),
                               resp in any::<([u8; 4], u16, u16, u16, u16)>(),
                               cap in 0u8..16, active in any::<u16>(), seq in any::<u8>()) {
            // Reserved bits (4 and 0) of the aux byte do not survive; the rest does.
            let activation = SolActivation::from_u8(aux);
            prop_assert_eq!(activation.to_u8(), aux & 0xee);
            req_rt(&ActivatePayload { payload_type: pt, instance: inst, activation });
            req_rt(&DeactivatePayload { payload_type: pt, instance: inst });
            req_rt(&GetPayloadActivationStatus { payload_type: pt });
            rt(&PayloadActivated {
                aux: resp.0, inbound_size: resp.1, outbound_size: resp.2, port: resp.3, vlan: resp.4,
            });
            rt(&PayloadActivationStatus { capacity: cap, active });
            prop_assert_eq!(SolOperation::from_u8(seq).to_u8(), seq & 0x7f);
            prop_assert_eq!(SolStatus::from_u8(seq).to_u8(), seq & 0x7c);
            let n = next_sequence(seq);
            prop_assert!((1..=15).contains(&n));
        }
    }
}
