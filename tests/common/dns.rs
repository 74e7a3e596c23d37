//! A tiny authoritative DNS server on 127.0.0.1 for the tests (RFC 1035 over UDP): it answers
//! from a fixed zone and logs every question it was asked, in order.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};

use hickory_resolver::Name;
use hickory_resolver::proto::op::{Message, MessageType, OpCode, ResponseCode};
use hickory_resolver::proto::rr::rdata::{A, NAPTR, SRV};
use hickory_resolver::proto::rr::{RData, Record, RecordType};
use tokio::net::UdpSocket;

/// The most questions logged (later ones are answered, not logged).
const MAX_LOGGED: usize = 1024;

/// The zone served: records by owner name.
#[derive(Default)]
pub struct Zone {
    records: Vec<Record>,
}

fn name(s: &str) -> Name {
    Name::from_ascii(format!("{}.", s.trim_end_matches('.'))).unwrap()
}

impl Zone {
    /// `owner SRV priority weight port target` (target `.` for "not offered").
    pub fn srv(mut self, owner: &str, priority: u16, weight: u16, port: u16, target: &str) -> Self {
        let target = if target == "." {
            Name::root()
        } else {
            name(target)
        };
        self.records.push(Record::from_rdata(
            name(owner),
            60,
            RData::SRV(SRV::new(priority, weight, port, target)),
        ));
        self
    }

    /// `owner A ip`.
    pub fn a(mut self, owner: &str, ip: Ipv4Addr) -> Self {
        self.records
            .push(Record::from_rdata(name(owner), 60, RData::A(A(ip))));
        self
    }

    /// `owner NAPTR order preference "S" service "" replacement`.
    pub fn naptr(
        mut self,
        owner: &str,
        order: u16,
        preference: u16,
        service: &str,
        replacement: &str,
    ) -> Self {
        self.records.push(Record::from_rdata(
            name(owner),
            60,
            RData::NAPTR(NAPTR::new(
                order,
                preference,
                b"S".to_vec().into_boxed_slice(),
                service.as_bytes().to_vec().into_boxed_slice(),
                Vec::new().into_boxed_slice(),
                name(replacement),
            )),
        ));
        self
    }
}

/// A running server.
pub struct DnsServer {
    /// Where it answers (UDP).
    pub addr: SocketAddr,
    asked: Arc<Mutex<Vec<(RecordType, String)>>>,
}

impl DnsServer {
    /// Serve `zone` on 127.0.0.1 until the test's runtime ends.
    pub async fn start(zone: Zone) -> DnsServer {
        let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = socket.local_addr().unwrap();
        let asked = Arc::new(Mutex::new(Vec::new()));
        let log = asked.clone();
        tokio::spawn(async move {
            let mut buf = vec![0u8; 4096];
            loop {
                let Ok((n, from)) = socket.recv_from(&mut buf).await else {
                    return;
                };
                let Ok(query) = Message::from_vec(&buf[..n]) else {
                    continue;
                };
                let Some(answer) = answer(&zone, &query, &log) else {
                    continue;
                };
                let _ = socket.send_to(&answer, from).await;
            }
        });
        DnsServer { addr, asked }
    }

    /// Every question asked so far, in order, as (type, name without the trailing dot).
    pub fn asked(&self) -> Vec<(RecordType, String)> {
        self.asked.lock().unwrap().clone()
    }
}

fn answer(zone: &Zone, query: &Message, log: &Mutex<Vec<(RecordType, String)>>) -> Option<Vec<u8>> {
    let question = query.queries().first()?.clone();
    let qname = question.name().to_ascii().to_ascii_lowercase();
    {
        let mut log = log.lock().unwrap();
        if log.len() < MAX_LOGGED {
            log.push((
                question.query_type(),
                qname.trim_end_matches('.').to_owned(),
            ));
        }
    }
    let owned: Vec<&Record> = zone
        .records
        .iter()
        .filter(|r| r.name().to_ascii().to_ascii_lowercase() == qname)
        .collect();
    let mut response = Message::new();
    response
        .set_id(query.id())
        .set_message_type(MessageType::Response)
        .set_op_code(OpCode::Query)
        .set_authoritative(true)
        .set_recursion_desired(query.recursion_desired())
        .add_query(question.clone());
    if owned.is_empty() {
        response.set_response_code(ResponseCode::NXDomain);
    }
    response.add_answers(
        owned
            .into_iter()
            .filter(|r| r.record_type() == question.query_type())
            .cloned(),
    );
    response.to_vec().ok()
}
