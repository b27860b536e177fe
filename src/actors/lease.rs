//! The lease store actor (`lease-1`): the arbiter of manager leadership, wrapping
//! `control::lease::LeaseStore`. Requests from managers it does not know are ignored.

use crate::control::lease::LeaseStore;
use crate::sim::{Behavior, Ctx, Input, NodeId};

use super::{Msg, CONTROL_MESSAGE_BYTES};

pub struct LeaseStoreNode {
    managers: Vec<NodeId>,
    store: LeaseStore,
}

impl LeaseStoreNode {
    pub fn new(managers: Vec<NodeId>, store: LeaseStore) -> Self {
        LeaseStoreNode { managers, store }
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
            msg: Msg::LeaseRequest { id },
        } = input
        {
            let Some(client) = self.managers.iter().position(|&m| m == from) else {
                return;
            };
            if self.store.handle_acquire(ctx.now(), client) {
                ctx.send(from, Msg::LeaseGrant { id }, CONTROL_MESSAGE_BYTES);
            }
        }
    }
}
