package server

import _ "embed"

// DemoSQL is the script --demo runs at start (exec/server/demo.sql): the
// clickstream datagen source, the demo views and an http push source.
//
//go:embed demo.sql
var DemoSQL string

// DemoViews are the views DemoSQL creates, in creation order.
var DemoViews = []string{
	"page_views_per_minute", "active_users_hourly", "user_sessions", "sessions_per_user",
	"checkout_funnel", "abandoned_carts", "app_events_per_minute",
}
