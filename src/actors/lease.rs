//! The lease store actor (`lease-1`): the Kubernetes Lease object the manager pair
//! elects its leader through, wrapping `control::lease::LeaseObject`. It answers reads
//! and compare-and-swap writes and judges nothing itself. Calls from nodes that are not
//! managers are ignored.

use crate::control::lease::{Identity, LeaseObject};
use crate::sim::{Behavior, Ctx, Input, NodeId};

use super::{Msg, CONTROL_MESSAGE_BYTES};

pub struct LeaseStoreNode {
    managers: Vec<NodeId>,
    object: LeaseObject,
}

impl LeaseStoreNode {
    pub fn new(managers: Vec<NodeId>) -> Self {
        LeaseStoreNode {
            managers,
            object: LeaseObject::default(),
        }
    }
}

impl Behavior for LeaseStoreNode {
    type Msg = Msg;

    fn handle(&mut self, input: Input<Msg>, ctx: &mut Ctx<'_, Msg>) {
        if super::answer_liveness_scrape(&input, ctx) {
            return;
        }
        if let Input::Msg {
            from,
            msg: Msg::LeaseCall { id, incarnation, call },
        } = input
        {
            let Some(client) = self.managers.iter().position(|&m| m == from) else {
                return;
            };
            let caller = Identity {
                client: client as u32,
                incarnation,
            };
            let answer = self.object.handle_call(caller, call);
            let answer = Msg::LeaseAnswer {
                id,
                incarnation,
                answer,
            };
            ctx.send(from, answer, CONTROL_MESSAGE_BYTES);
        }
    }
}
