package bench

// Word lists the simulated vendor draws from. All are plain ASCII without
// quotes or backslashes, so values are written into JSON unescaped.

var simFirstNames = []string{
	"james", "maria", "wei", "olivia", "ahmed", "sofia", "lucas", "emma",
	"noah", "ava", "liam", "mia", "ethan", "isabella", "mateo", "chloe",
	"arjun", "hannah", "kenji", "fatima", "diego", "grace", "omar", "lea",
	"ivan", "nora", "samuel", "zoe", "daniel", "aisha", "felix", "clara",
	"hugo", "elena", "ravi", "julia", "tomas", "yuki", "leon", "amara",
	"oscar", "ines", "victor", "priya", "adam", "sara", "max", "lina",
}

var simLastNames = []string{
	"smith", "garcia", "chen", "mueller", "kowalski", "rossi", "dubois",
	"nguyen", "patel", "kim", "silva", "johansson", "ivanova", "tanaka",
	"okafor", "haddad", "novak", "jensen", "murphy", "lopez", "schmidt",
	"moreau", "santos", "yamamoto", "kaur", "fischer", "bianchi", "larsen",
	"walker", "hughes", "ali", "costa", "weber", "petrov", "sato", "brown",
	"wilson", "martin", "lindqvist", "horvat", "cohen", "reyes", "meyer",
}

var simCompanyHeads = []string{
	"Northwind", "Contoso", "Globex", "Initech", "Umbrella", "Stark",
	"Wayne", "Acme", "Hooli", "Vandelay", "Soylent", "Tyrell", "Cyberdyne",
	"Wonka", "Gringotts", "Aperture", "Massive", "Oscorp", "Pied Piper",
	"Prestige", "Dunder", "Monarch", "Nakatomi", "Blue Sun", "Virtucon",
	"Zorg", "Sirius", "Kaiju", "Octan", "Gekko", "Bluth", "Sterling",
	"Duff", "Krusty", "Lunar", "Polar", "Cobalt", "Granite", "Harbor",
	"Summit", "Meridian", "Vertex", "Quantum", "Atlas", "Beacon", "Cedar",
}

var simCompanyTails = []string{
	"Logistics", "Systems", "Analytics", "Labs", "Industries", "Networks",
	"Software", "Holdings", "Dynamics", "Partners", "Robotics", "Media",
	"Foods", "Energy", "Health", "Capital", "Cloud", "Devices", "Security",
	"Ventures", "Mobility", "Materials", "Bio", "Digital",
}

var simCountries = []string{
	"US", "US", "US", "GB", "DE", "FR", "NL", "SE", "ES", "IT", "CA", "JP",
	"IN", "BR", "AU", "SG", "PL", "IE", "CH", "DK",
}

var simTitles = []string{
	"Account Executive", "Senior Account Executive", "Sales Director",
	"VP of Sales", "Marketing Manager", "Head of Partnerships",
	"Field Marketing Lead", "Developer Advocate", "Solutions Engineer",
	"Staff Software Engineer", "Engineering Manager", "CTO", "CEO",
	"Product Manager", "Senior Product Manager", "Data Engineer",
	"Data Scientist", "Events Coordinator", "Brand Manager",
	"Customer Success Manager", "Chief Marketing Officer", "Founder",
	"Principal Architect", "Site Reliability Engineer", "Growth Lead",
	"Community Manager", "Procurement Specialist", "Business Analyst",
	"Director of Engineering", "Head of Developer Relations",
}

var simEvents = []string{
	"Cloud Native Summit 2026", "DataOps World 2026", "KafkaCon EU 2026",
	"Stream Processing Days", "DevRel Forum Berlin", "AI Infra Expo",
	"Platform Engineering Day", "Observability Conf 2026",
	"Security Leaders Forum", "SaaS Growth Summit", "Open Source Week",
	"Edge Computing Expo", "Fintech Build 2026", "Retail Data Summit",
	"Analytics Engineering Meetup", "Product-Led Growth Live",
}

// simRoles are the local parts of shared inboxes: the feed's natural hubs.
var simRoles = []string{
	"info", "sales", "events", "partners", "marketing", "hello", "contact",
	"team", "office", "sponsorship", "press", "admin",
}
