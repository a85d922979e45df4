package console

import "github.com/deskmail/deskmail/version"

// buildVersion is the build's version as /readyz and the ready line say it.
var buildVersion = version.Get().Short()
