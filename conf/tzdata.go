package conf

// The time zone database is embedded so limits.time_zone works in images
// without /usr/share/zoneinfo (the distroless image has none).
import _ "time/tzdata"
