package h2srv

import "time"

// Config is what a connection advertises to its client and the bounds it
// holds the client to. Zero fields take the defaults below.
type Config struct {
	// MaxConcurrentStreams is advertised; a HEADERS frame opening a stream
	// past it is refused with RST_STREAM REFUSED_STREAM. Default 100.
	MaxConcurrentStreams uint32
	// MaxHeaderListSize is advertised: a request head (or trailers) whose
	// decoded size (names, values and 32 bytes per field) is larger is
	// answered 431 (trailers: reset). Default 64 KiB.
	MaxHeaderListSize uint32
	// InitialWindowSize is each stream's receive window. Default 1 MiB.
	InitialWindowSize int32
	// ConnWindowSize is the connection's receive window, announced with a
	// WINDOW_UPDATE after the server preface. Default 4 MiB.
	ConnWindowSize int32
	// MaxReadFrameSize is the largest frame payload read: a larger frame
	// is a FRAME_SIZE_ERROR. Default (and minimum) 16 KiB.
	MaxReadFrameSize uint32
	// MaxContinuations is how many CONTINUATION frames one header block
	// may have. Default 32.
	MaxContinuations int
	// MaxHeaderBlockBytes bounds one header block's encoded bytes across
	// its frames. Default 2 × MaxHeaderListSize.
	MaxHeaderBlockBytes int
	// MaxResetsPerWindow bounds the streams the client resets, plus those
	// refused, in one RateWindow (rapid reset). Default 200.
	MaxResetsPerWindow int
	// MaxControlPerWindow bounds PING, SETTINGS, PRIORITY and empty DATA
	// frames in one RateWindow. Default 1000.
	MaxControlPerWindow int
	// RateWindow is the span the two rates above are counted over.
	// Default one second.
	RateWindow time.Duration
	// MaxOutput is how many unwritten output bytes make Feed stop taking
	// frames until the driver writes them. Default 256 KiB.
	MaxOutput int
	// Now reads the clock for the rate windows (the event loop's cached
	// time). Default time.Now.
	Now func() time.Time
	// StreamError, if set, is told of each request refused for what it
	// carried, by kind: "connection_specific_field" for a request naming
	// a connection-specific field or a TE other than "trailers" (RFC 9113
	// section 8.2.2), "malformed_request" for any other malformed head,
	// "header_list_too_large" for a head answered 431 (or trailers reset)
	// past MaxHeaderListSize.
	StreamError func(kind string)
}

// withDefaults returns cfg with every zero field set to its default.
func (cfg Config) withDefaults() Config {
	if cfg.MaxConcurrentStreams == 0 {
		cfg.MaxConcurrentStreams = 100
	}
	if cfg.MaxHeaderListSize == 0 {
		cfg.MaxHeaderListSize = 64 << 10
	}
	if cfg.InitialWindowSize <= 0 {
		cfg.InitialWindowSize = 1 << 20
	}
	if cfg.ConnWindowSize < defaultWindow {
		cfg.ConnWindowSize = 4 << 20
	}
	if cfg.MaxReadFrameSize < minMaxFrameSize {
		cfg.MaxReadFrameSize = minMaxFrameSize
	}
	if cfg.MaxReadFrameSize > maxMaxFrameSize {
		cfg.MaxReadFrameSize = maxMaxFrameSize
	}
	if cfg.MaxContinuations <= 0 {
		cfg.MaxContinuations = 32
	}
	if cfg.MaxHeaderBlockBytes <= 0 {
		cfg.MaxHeaderBlockBytes = 2 * int(cfg.MaxHeaderListSize)
	}
	if cfg.MaxResetsPerWindow <= 0 {
		cfg.MaxResetsPerWindow = 200
	}
	if cfg.MaxControlPerWindow <= 0 {
		cfg.MaxControlPerWindow = 1000
	}
	if cfg.RateWindow <= 0 {
		cfg.RateWindow = time.Second
	}
	if cfg.MaxOutput <= 0 {
		cfg.MaxOutput = 256 << 10
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return cfg
}

const (
	defaultWindow   = 65535
	maxWindow       = 1<<31 - 1
	minMaxFrameSize = 1 << 14
	maxMaxFrameSize = 1<<24 - 1
	frameHeaderLen  = 9
	// defaultTableSize is HPACK's dynamic table size both ways (RFC 7541).
	defaultTableSize = 4096
)
