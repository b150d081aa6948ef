//! Owner-only operations (invites, node status).

use hyper::Method;
use onionchat_proto::wire::{
    CreateInvite, Invite, InviteLink, InviteList, MemberList, NodeStatus, UserInfo,
};

use crate::client::Client;
use crate::error::Result;

impl Client {
    /// Create a single-use invite (owner only).
    pub async fn create_invite(
        &self,
        ttl_secs: Option<u64>,
        note: Option<String>,
    ) -> Result<Invite> {
        self.call(
            Method::POST,
            "/v1/admin/invites",
            Some(&CreateInvite { ttl_secs, note }),
        )
        .await
    }

    /// The link for an invite code on our node (address and access key from
    /// our profile).
    pub fn invite_link(&self, code: &str) -> InviteLink {
        let p = self.profile();
        InviteLink {
            address: p.data.address.clone(),
            code: code.to_string(),
            auth_key: p.data.auth_key.clone(),
        }
    }

    /// All invites (owner only).
    pub async fn invites(&self) -> Result<Vec<Invite>> {
        let l: InviteList = self
            .call::<(), _>(Method::GET, "/v1/admin/invites", None)
            .await?;
        Ok(l.invites)
    }

    /// Revoke an invite (owner only).
    pub async fn revoke_invite(&self, code: &str) -> Result<Invite> {
        self.call::<(), _>(Method::DELETE, &format!("/v1/admin/invites/{code}"), None)
            .await
    }

    /// The box's accounts (owner only). Names and join dates for the
    /// owner's overview: the keys in them are not pinned or trusted.
    pub async fn members(&self) -> Result<Vec<UserInfo>> {
        let l: MemberList = self
            .call::<(), _>(Method::GET, "/v1/admin/users", None)
            .await?;
        Ok(l.members)
    }

    /// Remove an account from the node (owner only): it can no longer log
    /// in, its live connections close and its access key is revoked. Rooms
    /// keep it in their signed rosters until a room admin removes it.
    pub async fn remove_account(&self, username: &str) -> Result<()> {
        let user = self.user(username).await?;
        self.call_empty::<()>(
            Method::DELETE,
            &format!("/v1/admin/users/{}", user.user_id.0),
            None,
        )
        .await
    }

    /// The node's status (owner only).
    pub async fn node_status(&self) -> Result<NodeStatus> {
        self.call::<(), _>(Method::GET, "/v1/admin/status", None)
            .await
    }
}
