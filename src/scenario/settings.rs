//! The enumerated settings of a scenario, typed. A scenario file spells them as
//! strings, and the raw TOML structs keep them so (validation points at the string a
//! file wrote); [`Settings::of`] parses them once, for everything downstream, and
//! validation offers the same names.

use super::Scenario;

named_enum! {
    /// How the ingest servers share a stream (`ingest.redundancy`).
    pub enum Redundancy {
        /// A primary packages each stream; the manager moves its address to the
        /// standby when the primary fails.
        ActivePassive = "active-passive",
        /// Both servers package every stream; the origin selects an input.
        ActiveActive = "active-active",
        /// Encoders resolve the ingest name; DNS failover answers with a healthy server.
        Dns = "dns",
    }
}

named_enum! {
    /// Whether a server that lost its stream may still publish (`ingest.output_locking`).
    pub enum OutputLocking {
        /// Segments carry the epoch of the server's lease; the origin drops stale ones.
        Epoch = "epoch",
        /// No fencing: a deposed primary's segments are published too.
        None = "none",
    }
}

named_enum! {
    /// What a running packager publishes while its input is lost
    /// (`ingest.input_loss_action`).
    pub enum InputLossAction {
        /// Nothing: the playlist stops growing and resumes with the next segment, marked
        /// `EXT-X-DISCONTINUITY`, the lost media spliced out (nginx-rtmp
        /// `hls_continuous`, on by default; MediaLive `inputLossAction = PAUSE_OUTPUT`).
        Splice = "splice",
        /// Slate segments on the usual schedule: the output never stops, but shows
        /// no content (MediaLive `inputLossAction = EMIT_OUTPUT`).
        Slate = "slate",
        /// `EXT-X-GAP` entries on the usual schedule: the playlist keeps growing with
        /// segments that hold no media (draft-pantos-hls-rfc8216bis §6.2.1).
        Gap = "gap",
    }
}

named_enum! {
    /// Whether a stream returns to its primary once it is healthy (`ingest.failback`).
    pub enum FailbackSetting {
        None = "none",
        PreferPrimary = "prefer-primary",
    }
}

named_enum! {
    /// How viewers reach an edge (`cdn.balancing`).
    pub enum Balancing {
        /// Each viewer is assigned an edge (and backups) by a software balancer.
        Software = "software",
        /// Viewers resolve the CDN name through their resolvers; DNS rotates edges.
        RoundRobinDns = "round-robin-dns",
        /// A pair of load balancer devices (VRRP) proxies viewers to the edges.
        Hardware = "hardware",
    }
}

named_enum! {
    /// How the kernel dispatches events (`scenario.dispatch`); both give the same results.
    pub enum DispatchMode {
        Window = "window",
        Strict = "strict",
    }
}

named_enum! {
    /// What a load balancer's active check asks an edge (`lb.check`).
    pub enum LbCheck {
        Liveness = "liveness",
        /// The edge's playlist must have changed within `lb.playlist_stale_after`.
        Playlist = "playlist",
    }
}

named_enum! {
    /// The passive checks a load balancer runs on live traffic (`lb.passive`).
    pub enum PassiveChecks {
        None = "none",
        /// nginx `max_fails`/`fail_timeout`.
        Nginx = "nginx",
        /// Envoy outlier detection.
        Envoy = "envoy",
    }
}

named_enum! {
    /// Which side of an alert's threshold fires it (`alert.op`).
    pub enum AlertOp {
        Gt = "gt",
        Lt = "lt",
    }
}

named_enum! {
    /// How an expectation compares a metric with its value (`expect.op`).
    pub enum ExpectOp {
        Lt = "lt",
        Le = "le",
        Gt = "gt",
        Ge = "ge",
        Eq = "eq",
        Between = "between",
    }
}

named_enum! {
    /// A distribution of intervals or durations around a mean.
    pub enum Distribution {
        Exponential = "exponential",
        Fixed = "fixed",
        /// Uniform on [0, 2 × mean].
        Uniform = "uniform",
    }
}

named_enum! {
    /// The distribution of viewers' session lengths around their mean
    /// (`viewers.session.distribution`).
    pub enum SessionDistribution {
        Exponential = "exponential",
        /// With the shape `viewers.session.sigma`.
        Lognormal = "lognormal",
        Fixed = "fixed",
        /// Uniform on [0, 2 × mean].
        Uniform = "uniform",
    }
}

named_enum! {
    /// The player a viewer runs (`viewers.player`).
    pub enum PlayerPreset {
        HlsJs = "hls.js",
        Shaka = "shaka",
        ExoPlayer = "exoplayer",
    }
}

impl Scenario {
    /// `ingest.redundancy`, typed; `None` for a name validation refuses.
    pub fn redundancy(&self) -> Option<Redundancy> {
        Redundancy::by_name(&self.ingest.redundancy)
    }

    /// `cdn.balancing`, typed; `None` for a name validation refuses.
    pub fn balancing(&self) -> Option<Balancing> {
        Balancing::by_name(&self.cdn.balancing)
    }
}

/// A setting whose name no enum knows: only a scenario that skipped validation has one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{key} = \"{value}\"` is not one of: {allowed}")]
pub struct UnknownSetting {
    pub key: &'static str,
    pub value: String,
    pub allowed: String,
}

/// Parses `value` of setting `key`.
pub fn parse<T>(
    key: &'static str,
    value: &str,
    by_name: fn(&str) -> Option<T>,
    names: &[&str],
) -> Result<T, UnknownSetting> {
    by_name(value).ok_or_else(|| UnknownSetting {
        key,
        value: value.to_string(),
        allowed: names.join(", "),
    })
}

/// Every enumerated setting of a scenario, parsed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Settings {
    pub redundancy: Redundancy,
    pub output_locking: OutputLocking,
    pub input_loss_action: InputLossAction,
    pub failback: FailbackSetting,
    pub balancing: Balancing,
    pub dispatch: DispatchMode,
    pub lb_check: LbCheck,
    pub lb_passive: PassiveChecks,
    pub player: PlayerPreset,
}

impl Settings {
    /// The settings of `s`; an error names a value that validation would have refused.
    pub fn of(s: &Scenario) -> Result<Settings, UnknownSetting> {
        Ok(Settings {
            redundancy: parse(
                "ingest.redundancy",
                &s.ingest.redundancy,
                Redundancy::by_name,
                Redundancy::NAMES,
            )?,
            output_locking: parse(
                "ingest.output_locking",
                &s.ingest.output_locking,
                OutputLocking::by_name,
                OutputLocking::NAMES,
            )?,
            input_loss_action: parse(
                "ingest.input_loss_action",
                &s.ingest.input_loss_action,
                InputLossAction::by_name,
                InputLossAction::NAMES,
            )?,
            failback: parse(
                "ingest.failback",
                &s.ingest.failback,
                FailbackSetting::by_name,
                FailbackSetting::NAMES,
            )?,
            balancing: parse("cdn.balancing", &s.cdn.balancing, Balancing::by_name, Balancing::NAMES)?,
            dispatch: parse(
                "scenario.dispatch",
                &s.scenario.dispatch,
                DispatchMode::by_name,
                DispatchMode::NAMES,
            )?,
            lb_check: parse("lb.check", &s.lb.check, LbCheck::by_name, LbCheck::NAMES)?,
            lb_passive: parse(
                "lb.passive",
                &s.lb.passive,
                PassiveChecks::by_name,
                PassiveChecks::NAMES,
            )?,
            player: parse(
                "viewers.player",
                &s.viewers.player,
                PlayerPreset::by_name,
                PlayerPreset::NAMES,
            )?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::player::PlayerConfig;

    #[test]
    fn every_player_preset_has_its_configuration() {
        assert_eq!(PlayerPreset::NAMES, PlayerConfig::PRESETS);
        for preset in PlayerPreset::ALL {
            assert!(PlayerConfig::preset(preset.name()).is_some(), "{preset}");
        }
    }

    #[test]
    fn a_name_parses_back_to_its_variant() {
        for &kind in Redundancy::ALL {
            assert_eq!(Redundancy::by_name(kind.name()), Some(kind));
        }
        assert_eq!(Redundancy::by_name("active_passive"), None);
        let error = parse("ingest.redundancy", "hot", Redundancy::by_name, Redundancy::NAMES).unwrap_err();
        assert_eq!(
            error.to_string(),
            "`ingest.redundancy = \"hot\"` is not one of: active-passive, active-active, dns"
        );
    }
}
