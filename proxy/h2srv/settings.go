package h2srv

import (
	"golang.org/x/net/http2"
)

// peerSettings are the client's SETTINGS that shape what the server sends.
type peerSettings struct {
	initialWindow int64  // SETTINGS_INITIAL_WINDOW_SIZE: a stream's send window to start
	maxFrameSize  int    // SETTINGS_MAX_FRAME_SIZE: the largest payload to send
	maxHeaderList uint32 // SETTINGS_MAX_HEADER_LIST_SIZE (advisory; 0: unlimited)
}

// defaultPeerSettings are the values before the client's SETTINGS.
func defaultPeerSettings() peerSettings {
	return peerSettings{initialWindow: defaultWindow, maxFrameSize: minMaxFrameSize}
}

// onSettings applies a client's SETTINGS in order (a repeated identifier:
// the last value holds) and acknowledges it.
func (c *Conn) onSettings(f *http2.SettingsFrame) error {
	if f.IsAck() {
		return nil
	}
	if c.gotSettings {
		if err := c.countControl("SETTINGS"); err != nil {
			return err
		}
	}
	c.gotSettings = true
	var err error
	grew := false
	f.ForeachSetting(func(s http2.Setting) error {
		if err == nil {
			var g bool
			g, err = c.applySetting(s)
			grew = grew || g
		}
		return nil
	})
	if err != nil {
		return err
	}
	c.fr.WriteSettingsAck()
	if grew {
		c.wakeWriters()
	}
	return nil
}

// applySetting applies one setting; grew reports a stream send window
// that grew.
func (c *Conn) applySetting(s http2.Setting) (grew bool, err error) {
	if err := s.Valid(); err != nil {
		return false, frameErr(err)
	}
	switch s.ID {
	case http2.SettingHeaderTableSize:
		c.enc.SetMaxDynamicTableSizeLimit(min(s.Val, defaultTableSize))
	case http2.SettingInitialWindowSize:
		return c.setInitialWindow(int64(s.Val))
	case http2.SettingMaxFrameSize:
		c.peer.maxFrameSize = int(s.Val)
	case http2.SettingMaxHeaderListSize:
		c.peer.maxHeaderList = s.Val
	}
	return false, nil
}

// setInitialWindow moves every open stream's send window by the change of
// SETTINGS_INITIAL_WINDOW_SIZE (RFC 9113 section 6.9.2).
func (c *Conn) setInitialWindow(v int64) (grew bool, err error) {
	delta := v - c.peer.initialWindow
	c.peer.initialWindow = v
	for _, s := range c.streams {
		s.sendWin += delta
		if s.sendWin > maxWindow {
			return false, connErr(http2.ErrCodeFlowControl, "SETTINGS_INITIAL_WINDOW_SIZE overflows a stream window")
		}
	}
	return delta > 0, nil
}
