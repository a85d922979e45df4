package gateway

import (
	"github.com/deskmail/deskmail/config"
	"github.com/deskmail/deskmail/httplimit"
)

// httpLimits are the HTTP listener's limits from the settings.
func httpLimits(cfg *config.Config) httplimit.Limits {
	return httplimit.Limits{ReadHeaderTimeout: cfg.HTTPReadHeaderTimeout, ReadTimeout: cfg.HTTPReadTimeout,
		WriteTimeout: cfg.HTTPWriteTimeout, IdleTimeout: cfg.HTTPIdleTimeout,
		MaxConns: cfg.HTTPMaxConns, MaxConnsPerIP: cfg.HTTPMaxConnsPerIP}
}
