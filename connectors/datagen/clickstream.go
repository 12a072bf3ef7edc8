package datagen

import (
	"math"
	"math/rand/v2"
	"strconv"

	"github.com/sluice-db/sluice/sql/types"
)

// Clickstream event types.
const (
	evPageView      = "page_view"
	evCartAdd       = "cart_add"
	evCheckoutStart = "checkout_start"
	evPurchase      = "purchase"
	evEmailOpen     = "email_open"
	evEmailClick    = "email_click"
)

// clickFields are the fields of stream 'clickstream'. Fields that do not
// apply to an event type are NULL (product_id of an email_open, ...).
var clickFields = fieldSet{
	{name: "event_id", kind: types.Int64, doc: "sequence number of the event, from 0"},
	{name: "event_type", kind: types.Text, doc: "page_view, cart_add, checkout_start, purchase, email_open, email_click"},
	{name: "ts", aliases: []string{"event_time", "event_ts", "timestamp", "time"}, kind: types.Timestamp, doc: "event time"},
	{name: "user_id", kind: types.Int64},
	{name: "session_id", kind: types.Text, doc: "NULL for email_open"},
	{name: "campaign", kind: types.Text, doc: "marketing campaign that brought the session ('organic', 'direct' without one)"},
	{name: "channel", kind: types.Text, doc: "email, search, social, display, affiliate, organic, direct"},
	{name: "page", aliases: []string{"url", "page_url"}, kind: types.Text},
	{name: "referrer", kind: types.Text},
	{name: "product_id", kind: types.Int64, doc: "cart_add, purchase and product page views"},
	{name: "category", kind: types.Text},
	{name: "price", aliases: []string{"amount", "revenue"}, kind: types.Numeric, doc: "cart_add: item price; checkout_start, purchase: cart total"},
	{name: "quantity", kind: types.Int64},
	{name: "order_id", kind: types.Text, doc: "purchase only"},
	{name: "device", kind: types.Text, doc: "mobile, desktop, tablet"},
	{name: "country", kind: types.Text, doc: "ISO 3166 code"},
	{name: "email_id", kind: types.Text, doc: "email_open and email_click: the message"},
}

const (
	cfEventID = iota
	cfEventType
	cfTS
	cfUserID
	cfSessionID
	cfCampaign
	cfChannel
	cfPage
	cfReferrer
	cfProductID
	cfCategory
	cfPrice
	cfQuantity
	cfOrderID
	cfDevice
	cfCountry
	cfEmailID
)

type weighted struct {
	v string
	w float64
}

type campaignDef struct {
	name, channel, referrer string
	w                       float64
}

var (
	campaigns = []campaignDef{
		{"organic", "organic", "https://www.google.com/", 24},
		{"direct", "direct", "", 14},
		{"brand_search", "search", "https://www.google.com/", 14},
		{"spring_sale", "email", "", 9},
		{"spring_sale", "social", "https://www.instagram.com/", 7},
		{"newsletter_weekly", "email", "", 8},
		{"retargeting", "display", "https://ads.example-network.com/", 10},
		{"influencer_collab", "social", "https://www.tiktok.com/", 8},
		{"affiliate_deals", "affiliate", "https://deals.example.org/", 6},
	}
	emailCampaigns = []string{"spring_sale", "newsletter_weekly"}
	devices        = []weighted{{"mobile", 55}, {"desktop", 38}, {"tablet", 7}}
	countries      = []weighted{{"US", 40}, {"GB", 10}, {"DE", 9}, {"IN", 8}, {"FR", 7}, {"CA", 6}, {"BR", 6}, {"JP", 5}, {"NL", 5}, {"AU", 4}}
	categories     = []string{"shoes", "apparel", "electronics", "home", "beauty", "sports", "books", "toys"}
	landingPages   = []string{"/", "/sale", "/new-arrivals", "/search", "/blog/style-guide"}
)

const numProducts = 500

func pick(r *rand.Rand, ws []weighted) string {
	total := 0.0
	for _, w := range ws {
		total += w.w
	}
	x := r.Float64() * total
	for _, w := range ws {
		if x < w.w {
			return w.v
		}
		x -= w.w
	}
	return ws[len(ws)-1].v
}

func pickCampaign(r *rand.Rand) campaignDef {
	total := 0.0
	for _, c := range campaigns {
		total += c.w
	}
	x := r.Float64() * total
	for _, c := range campaigns {
		if x < c.w {
			return c
		}
		x -= c.w
	}
	return campaigns[0]
}

// productPrice is a fixed price in cents per product: log-normal-ish
// between about $5 and $500.
func productPrice(p int64) int64 {
	h := uint64(p)*0x9E3779B97F4A7C15 + 0x632BE59BD9B4E5
	f := float64(h>>11) / (1 << 53)
	return int64(math.Round(math.Exp(math.Log(5)+f*math.Log(100))*100)) - 1 // $x.99
}

func productCategory(p int64) string { return categories[p%int64(len(categories))] }

// Session funnel stages.
const (
	stBrowsing = iota
	stCarted
	stCheckout
)

type cartItem struct {
	product, cents, qty int64
}

type session struct {
	id       string
	user     int64
	campaign campaignDef
	device   string
	country  string
	stage    int
	views    int
	cart     []cartItem
	emailID  string
}

// clickSim is the clickstream simulation. It is deterministic for a seed:
// the n-th call of next produces the same event in every run, so a restart
// from position n replays n steps without emitting them.
type clickSim struct {
	r          *rand.Rand
	users      int64
	target     int // concurrent sessions the simulation keeps
	sessions   []*session
	nextSessID int64
	nextOrder  int64
}

func newClickSim(seed uint64, users int64, concurrent int) *clickSim {
	return &clickSim{r: rand.New(rand.NewPCG(seed, 0xc11c5)), users: users, target: concurrent}
}

// pickUser favours returning users: a quarter of the population makes
// about half of the sessions.
func (s *clickSim) pickUser() int64 {
	x := s.r.Float64()
	return 1 + int64(x*x*float64(s.users))
}

func (s *clickSim) newSession(c campaignDef, user int64) *session {
	s.nextSessID++
	ss := &session{
		id:       "s" + strconv.FormatInt(s.nextSessID, 10),
		user:     user,
		campaign: c,
		device:   pick(s.r, devices),
		country:  pick(s.r, countries),
	}
	s.sessions = append(s.sessions, ss)
	return ss
}

func (s *clickSim) endSession(i int) {
	last := len(s.sessions) - 1
	s.sessions[i] = s.sessions[last]
	s.sessions[last] = nil
	s.sessions = s.sessions[:last]
}

// next writes event n's fields (event time ts) into out, one slot per
// clickFields entry.
func (s *clickSim) next(n, ts int64, out types.Row) {
	for i := range out {
		out[i] = types.NullValue
	}
	out[cfEventID] = types.NewInt(n)
	out[cfTS] = types.NewTimestamp(ts)
	r := s.r
	// About 3% of events are email opens, independent of site sessions.
	if r.IntN(100) < 3 {
		camp := emailCampaigns[r.IntN(len(emailCampaigns))]
		user := s.pickUser()
		out[cfEventType] = types.NewText(evEmailOpen)
		out[cfUserID] = types.NewInt(user)
		out[cfCampaign] = types.NewText(camp)
		out[cfChannel] = types.NewText("email")
		out[cfEmailID] = types.NewText("m-" + camp + "-" + strconv.FormatInt(user, 10))
		out[cfDevice] = types.NewText(pick(r, devices))
		out[cfCountry] = types.NewText(pick(r, countries))
		return
	}
	if len(s.sessions) == 0 || (len(s.sessions) < s.target && r.IntN(4) == 0) {
		c := pickCampaign(r)
		ss := s.newSession(c, s.pickUser())
		if c.channel == "email" {
			// An email click opens the session; the landing page follows.
			ss.emailID = "m-" + c.name + "-" + strconv.FormatInt(ss.user, 10)
			s.fillSession(ss, out, evEmailClick)
			out[cfEmailID] = types.NewText(ss.emailID)
			return
		}
	}
	i := r.IntN(len(s.sessions))
	ss := s.sessions[i]
	s.fillSession(ss, out, "")
	switch ss.stage {
	case stBrowsing:
		x := r.IntN(100)
		switch {
		case x < 12 && ss.views > 0:
			s.cartAdd(ss, out)
			ss.stage = stCarted
		default:
			s.pageView(ss, out)
			if ss.views > 1 && r.IntN(8) == 0 {
				s.endSession(i) // bounced or left without a cart
			}
		}
	case stCarted:
		x := r.IntN(100)
		switch {
		case x < 30:
			out[cfEventType] = types.NewText(evCheckoutStart)
			out[cfPage] = types.NewText("/checkout")
			out[cfPrice] = money(cartTotal(ss))
			out[cfQuantity] = types.NewInt(cartQty(ss))
			ss.stage = stCheckout
		case x < 45:
			s.cartAdd(ss, out)
		case x < 58:
			s.pageView(ss, out)
			s.endSession(i) // abandoned cart: the user leaves
		default:
			s.pageView(ss, out)
		}
	case stCheckout:
		x := r.IntN(100)
		switch {
		case x < 62:
			s.nextOrder++
			out[cfEventType] = types.NewText(evPurchase)
			out[cfPage] = types.NewText("/checkout/confirmation")
			out[cfPrice] = money(cartTotal(ss))
			out[cfQuantity] = types.NewInt(cartQty(ss))
			out[cfProductID] = types.NewInt(ss.cart[0].product)
			out[cfCategory] = types.NewText(productCategory(ss.cart[0].product))
			out[cfOrderID] = types.NewText("o" + strconv.FormatInt(s.nextOrder, 10))
			s.endSession(i)
		case x < 80:
			out[cfEventType] = types.NewText(evPageView)
			out[cfPage] = types.NewText("/checkout/payment")
			ss.views++
		default:
			s.pageView(ss, out)
			s.endSession(i) // abandoned at checkout
		}
	}
}

func cartTotal(ss *session) int64 {
	var t int64
	for _, it := range ss.cart {
		t += it.cents * it.qty
	}
	return t
}

func cartQty(ss *session) int64 {
	var q int64
	for _, it := range ss.cart {
		q += it.qty
	}
	return q
}

func (s *clickSim) fillSession(ss *session, out types.Row, evType string) {
	out[cfUserID] = types.NewInt(ss.user)
	out[cfSessionID] = types.NewText(ss.id)
	out[cfCampaign] = types.NewText(ss.campaign.name)
	out[cfChannel] = types.NewText(ss.campaign.channel)
	out[cfDevice] = types.NewText(ss.device)
	out[cfCountry] = types.NewText(ss.country)
	if evType != "" {
		out[cfEventType] = types.NewText(evType)
	}
}

func (s *clickSim) pageView(ss *session, out types.Row) {
	r := s.r
	out[cfEventType] = types.NewText(evPageView)
	if ss.views == 0 {
		out[cfPage] = types.NewText(landingPages[r.IntN(len(landingPages))])
		if ss.campaign.referrer != "" {
			out[cfReferrer] = types.NewText(ss.campaign.referrer)
		}
	} else if r.IntN(3) > 0 {
		p := 1 + r.Int64N(numProducts)
		out[cfPage] = types.NewText("/products/" + strconv.FormatInt(p, 10))
		out[cfProductID] = types.NewInt(p)
		out[cfCategory] = types.NewText(productCategory(p))
	} else {
		c := categories[r.IntN(len(categories))]
		out[cfPage] = types.NewText("/category/" + c)
		out[cfCategory] = types.NewText(c)
	}
	ss.views++
}

func (s *clickSim) cartAdd(ss *session, out types.Row) {
	r := s.r
	p := 1 + r.Int64N(numProducts)
	qty := int64(1)
	if r.IntN(5) == 0 {
		qty = 2 + r.Int64N(3)
	}
	cents := productPrice(p)
	ss.cart = append(ss.cart, cartItem{p, cents, qty})
	out[cfEventType] = types.NewText(evCartAdd)
	out[cfPage] = types.NewText("/products/" + strconv.FormatInt(p, 10))
	out[cfProductID] = types.NewInt(p)
	out[cfCategory] = types.NewText(productCategory(p))
	out[cfPrice] = money(cents)
	out[cfQuantity] = types.NewInt(qty)
}
