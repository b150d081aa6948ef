//! What the screen shows: the node's status plus a few facts about the box.

use onionchat_proto::wire::NodeStatus;

/// A snapshot for the screens.
#[derive(Debug, Clone, PartialEq)]
pub struct DisplayStatus {
    /// The node's own status model.
    pub node: NodeStatus,
    /// SoC temperature in °C, if the board reports it.
    pub cpu_temp_c: Option<f32>,
    /// 1-minute load average.
    pub load1: Option<f32>,
    /// An invite link to show as a QR code (when the owner asked for one).
    pub invite: Option<String>,
    /// Current time (ms since the Unix epoch), for "3m ago".
    pub now_ms: u64,
}

/// Read temperature and load from /sys and /proc (None where absent).
pub fn read_system() -> (Option<f32>, Option<f32>) {
    let temp = std::fs::read_to_string("/sys/class/thermal/thermal_zone0/temp")
        .ok()
        .and_then(|s| s.trim().parse::<f32>().ok())
        .map(|m| m / 1000.0);
    let load = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok());
    (temp, load)
}
