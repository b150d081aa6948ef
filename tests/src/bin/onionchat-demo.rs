//! `scripts/demo`: a private Tor network on this machine, an OnionChat node
//! as an onion service, and two scripted people chatting through Arti —
//! for anyone without internet access, or who just wants to see it work.

use std::time::Duration;

use onionchat_tests::Node;
use onionchat_tests::tor_net::{TorNet, avoid_rollover, join_via_tor};

fn say(who: &str, what: &str) {
    println!("  {who:>6} │ {what}");
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let keep = std::env::args().any(|a| a == "--keep");
    let tmp = tempfile::Builder::new()
        .prefix("onionchat-demo-")
        .tempdir()?;
    println!(
        "1. Starting a private Tor network (3 directory authorities + 7 relays on 127.0.0.1)…"
    );
    let net = TorNet::start(&tmp.path().join("tor-net"));
    avoid_rollover(Duration::from_secs(120));
    println!("2. Starting the OnionChat node as an onion service (restricted discovery on)…");
    let node = Node::start_onion(&tmp.path().join("node"), &net.arti_config, &[]);
    println!("   the box is at {}", node.url);
    let invite = node
        .owner_invite
        .clone()
        .ok_or_else(|| anyhow::anyhow!("no owner invite"))?;
    println!("   owner invite: {invite}");
    println!("3. Ann joins through Arti with the owner invite, invites Bob…");
    let ann = join_via_tor(&net, &tmp.path().join("ann"), "ann", &invite).await?;
    let inv = ann.create_invite(None, Some("for bob".into())).await?;
    let bob = join_via_tor(
        &net,
        &tmp.path().join("bob"),
        "bob",
        &ann.invite_link(&inv.code).to_string(),
    )
    .await?;
    println!("4. They become friends and compare safety numbers:");
    let req = ann.send_friend_request("bob").await?;
    let room = bob.accept_friend_request(&req).await?.id;
    let (_, a_num, _) = ann.safety_number("bob").await?;
    let (_, b_num, _) = bob.safety_number("ann").await?;
    println!(
        "   ann sees {a_num}\n   bob sees {b_num}  {}",
        if a_num == b_num {
            "(match)"
        } else {
            "(MISMATCH!)"
        }
    );
    println!(
        "5. Conversation (every line encrypted, signed, relayed over Tor, verified on arrival):\n"
    );
    let mut bob_rx = bob.subscribe();
    let mut ann_rx = ann.subscribe();
    let _bl = bob.start_live();
    let _al = ann.start_live();
    let script = [
        ("ann", "Hi Bob! This is coming from the box on my shelf."),
        ("bob", "Hi Ann. No port forwarding, no Tor install, nice."),
        ("ann", "And the box only ever sees ciphertext."),
        ("bob", "Sending you the holiday photo now."),
    ];
    for (who, text) in script {
        let (from, rx) = if who == "ann" {
            (&ann, &mut bob_rx)
        } else {
            (&bob, &mut ann_rx)
        };
        from.send_text(room, text).await?;
        let got = onionchat_tests::wait_text(rx, 120, text).await;
        say(&got.sender_name, text);
    }
    let photo = tmp.path().join("holiday.jpg");
    onionchat_tests::make_file(&photo, 1024 * 1024, 42);
    let (file_id, _) = bob.send_file(room, &photo, Box::new(|_, _| true)).await?;
    let dest = tmp.path().join("holiday-received.jpg");
    let d = ann
        .download_file(
            file_id,
            &dest,
            Some(&onionchat_tests::sha256_file(&photo)),
            Box::new(|_, _| true),
        )
        .await?;
    say(
        "bob",
        &format!(
            "[file holiday.jpg, {} bytes — ann downloaded and verified it]",
            d.size
        ),
    );
    let status = ann.node_status().await?;
    println!(
        "\n6. The box's status: {} users, {} rooms, {} messages, transport {:?}.",
        status.users, status.rooms, status.messages_total, status.transport
    );
    if keep {
        println!(
            "\n--keep: everything stays up in {} until you press Ctrl-C.",
            tmp.path().display()
        );
        tokio::signal::ctrl_c().await?;
    }
    println!("Done. Stopping the node and the Tor network.");
    drop(node);
    drop(net);
    Ok(())
}
