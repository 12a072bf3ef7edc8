package datagen

import (
	"math"
	"math/rand/v2"
	"strconv"
	"strings"

	"github.com/sluice-db/sluice/sql/types"
)

// The Nexmark generator follows the reference generator of the Beam and
// Flink Nexmark suites (NexmarkUtils / GeneratorConfig): events are numbered
// globally; in every block of 50 events one is a person, three are auctions
// and 46 are bids; ids, hot auctions and hot bidders derive from the event
// number, and every random choice of event n comes from a generator seeded
// with (seed, n), so any event can be produced without its predecessors.
const (
	personProportion  = 1
	auctionProportion = 3
	bidProportion     = 46
	proportionDenom   = personProportion + auctionProportion + bidProportion

	firstPersonID   = 1000
	firstAuctionID  = 1000
	firstCategoryID = 10
	numCategories   = 5
	numActivePeople = 1000
	personIDLead    = 10
	inFlightAuction = 100
	auctionIDLead   = 10
	hotAuctionRatio = 2
	hotBidderRatio  = 4
	hotSellerRatio  = 4
	numChannels     = 10000
	hotChannelRatio = 100
	// auctionLengthMicros is the mean time an auction stays open.
	auctionLengthMicros = 10 * 1000 * 1000 * 60
)

// Nexmark event kinds.
const (
	kindPerson = iota
	kindAuction
	kindBid
)

func nexmarkKind(n int64) int {
	off := n % proportionDenom
	switch {
	case off < personProportion:
		return kindPerson
	case off < personProportion+auctionProportion:
		return kindAuction
	}
	return kindBid
}

func lastBase0PersonID(n int64) int64 {
	epoch, off := n/proportionDenom, n%proportionDenom
	if off >= personProportion {
		off = personProportion - 1
	}
	return epoch*personProportion + off
}

func lastBase0AuctionID(n int64) int64 {
	epoch, off := n/proportionDenom, n%proportionDenom
	switch {
	case off < personProportion:
		epoch--
		off = auctionProportion - 1
	case off >= personProportion+auctionProportion:
		off = auctionProportion - 1
	default:
		off -= personProportion
	}
	return epoch*auctionProportion + off
}

func nextBase0PersonID(n int64, r *rand.Rand) int64 {
	numPeople := lastBase0PersonID(n) + 1
	active := min(numPeople, numActivePeople)
	return numPeople - active + r.Int64N(active+personIDLead)
}

func nextBase0AuctionID(n int64, r *rand.Rand) int64 {
	maxA := lastBase0AuctionID(n)
	minA := max(maxA-inFlightAuction, 0)
	return minA + r.Int64N(maxA-minA+1+auctionIDLead)
}

// nexPrice returns a price in cents, log-uniform between 1 and 10^6 dollars
// cents as in the reference generator.
func nexPrice(r *rand.Rand) int64 {
	return int64(math.Round(math.Pow(10, r.Float64()*6) * 100))
}

func nexString(r *rand.Rand, maxLen int) string {
	n := 3 + r.IntN(maxLen-2)
	var b strings.Builder
	for range n {
		if r.IntN(13) == 0 {
			b.WriteByte(' ')
		} else {
			b.WriteByte(byte('a' + r.IntN(26)))
		}
	}
	return strings.TrimSpace(b.String())
}

func nexExtra(r *rand.Rand, n int64) string {
	// The reference pads events to an average size; a short deterministic
	// filler keeps rows realistic without dominating memory.
	return nexString(r, 16)
}

var (
	firstNames = []string{"Peter", "Paul", "Luke", "John", "Saul", "Vicky", "Kate", "Julie", "Sarah", "Deiter", "Walter"}
	lastNames  = []string{"Shultz", "Abrams", "Spencer", "White", "Bartels", "Walton", "Smith", "Jones", "Noris"}
	usStates   = []string{"AZ", "CA", "ID", "OR", "WA", "WY"}
	usCities   = []string{"Phoenix", "Los Angeles", "San Francisco", "Boise", "Portland", "Bend", "Redmond", "Seattle", "Kent", "Cheyenne"}
	channels   = []string{"Google", "Facebook", "Baidu", "Apple"}
)

// Nexmark fields (names as in the Nexmark schemas of RisingWave and Flink).
var (
	personFields = fieldSet{
		{name: "id", kind: types.Int64},
		{name: "name", kind: types.Text},
		{name: "email_address", kind: types.Text},
		{name: "credit_card", kind: types.Text},
		{name: "city", kind: types.Text},
		{name: "state", kind: types.Text},
		{name: "date_time", aliases: []string{"datetime", "ts"}, kind: types.Timestamp},
		{name: "extra", kind: types.Text},
	}
	auctionFields = fieldSet{
		{name: "id", kind: types.Int64},
		{name: "item_name", aliases: []string{"itemname"}, kind: types.Text},
		{name: "description", kind: types.Text},
		{name: "initial_bid", aliases: []string{"initialbid"}, kind: types.Int64},
		{name: "reserve", kind: types.Int64},
		{name: "date_time", aliases: []string{"datetime", "ts"}, kind: types.Timestamp},
		{name: "expires", kind: types.Timestamp},
		{name: "seller", kind: types.Int64},
		{name: "category", kind: types.Int64},
		{name: "extra", kind: types.Text},
	}
	bidFields = fieldSet{
		{name: "auction", kind: types.Int64},
		{name: "bidder", kind: types.Int64},
		{name: "price", kind: types.Int64},
		{name: "channel", kind: types.Text},
		{name: "url", kind: types.Text},
		{name: "date_time", aliases: []string{"datetime", "ts"}, kind: types.Timestamp},
		{name: "extra", kind: types.Text},
	}
)

// nexmarkGen produces the events of one Nexmark kind.
type nexmarkGen struct {
	kind int
	seed uint64
	pcg  *rand.PCG
	r    *rand.Rand
}

func newNexmark(kind int, seed uint64) *nexmarkGen {
	pcg := rand.NewPCG(seed, 0)
	return &nexmarkGen{kind: kind, seed: seed, pcg: pcg, r: rand.New(pcg)}
}

// fill writes the fields of global event n (of g.kind) with event time ts
// into out (one slot per field) and reports whether event n is of g.kind.
func (g *nexmarkGen) fill(n, ts int64, out types.Row) bool {
	if nexmarkKind(n) != g.kind {
		return false
	}
	g.pcg.Seed(g.seed, uint64(n))
	r := g.r
	switch g.kind {
	case kindPerson:
		id := lastBase0PersonID(n) + firstPersonID
		name := firstNames[r.IntN(len(firstNames))] + " " + lastNames[r.IntN(len(lastNames))]
		cc := strconv.Itoa(1000+r.IntN(9000)) + " " + strconv.Itoa(1000+r.IntN(9000)) + " " +
			strconv.Itoa(1000+r.IntN(9000)) + " " + strconv.Itoa(1000+r.IntN(9000))
		out[0] = types.NewInt(id)
		out[1] = types.NewText(name)
		out[2] = types.NewText(nexString(r, 7) + "@" + nexString(r, 5) + ".com")
		out[3] = types.NewText(cc)
		out[4] = types.NewText(usCities[r.IntN(len(usCities))])
		out[5] = types.NewText(usStates[r.IntN(len(usStates))])
		out[6] = types.NewTimestamp(ts)
		out[7] = types.NewText(nexExtra(r, n))
	case kindAuction:
		id := lastBase0AuctionID(n) + firstAuctionID
		var seller int64
		if r.IntN(hotSellerRatio) > 0 {
			seller = (lastBase0PersonID(n) / hotSellerRatio) * hotSellerRatio
		} else {
			seller = nextBase0PersonID(n, r)
		}
		initial := nexPrice(r)
		out[0] = types.NewInt(id)
		out[1] = types.NewText(nexString(r, 20))
		out[2] = types.NewText(nexString(r, 100))
		out[3] = types.NewInt(initial)
		out[4] = types.NewInt(initial + nexPrice(r))
		out[5] = types.NewTimestamp(ts)
		out[6] = types.NewTimestamp(ts + 1 + r.Int64N(2*auctionLengthMicros))
		out[7] = types.NewInt(seller + firstPersonID)
		out[8] = types.NewInt(firstCategoryID + r.Int64N(numCategories))
		out[9] = types.NewText(nexExtra(r, n))
	case kindBid:
		var auction, bidder int64
		if r.IntN(hotAuctionRatio) > 0 {
			auction = (lastBase0AuctionID(n) / hotAuctionRatio) * hotAuctionRatio
		} else {
			auction = nextBase0AuctionID(n, r)
		}
		if r.IntN(hotBidderRatio) > 0 {
			bidder = (lastBase0PersonID(n)/hotBidderRatio)*hotBidderRatio + 1
		} else {
			bidder = nextBase0PersonID(n, r)
		}
		// As in Flink's BidGenerator: 99% of bids come through one of the
		// four hot channels, the rest through one of 10000 others.
		var channel, url string
		if r.IntN(hotChannelRatio) > 0 {
			channel = channels[r.IntN(len(channels))]
			url = "https://www.nexmark.com/" + strings.ToLower(channel) + "/item.htm?query=1"
		} else {
			ch := r.IntN(numChannels)
			channel = "channel-" + strconv.Itoa(ch)
			url = "https://www.nexmark.com/" + nexString(r, 5) + "/" + nexString(r, 5) + "/item.htm?query=1&channel_id=" + strconv.Itoa(ch)
		}
		out[0] = types.NewInt(auction + firstAuctionID)
		out[1] = types.NewInt(bidder + firstPersonID)
		out[2] = types.NewInt(nexPrice(r))
		out[3] = types.NewText(channel)
		out[4] = types.NewText(url)
		out[5] = types.NewTimestamp(ts)
		out[6] = types.NewText(nexExtra(r, n))
	}
	return true
}
