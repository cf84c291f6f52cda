//! The people a seed holds: [`SeededCustomer`]s (and guests) with their [`SeededUser`]s and
//! [`SeededAddress`]es, and how the generator derives them from an index.

use erasure_core::{Key, Subject};

use super::rng::Rng;
use super::{ADDRESSES_PER, CASHBACKS_PER, ORDERS_PER, Seed, Shape, USERS_PER, WORDS_PER};
use crate::names;
use crate::residue::Needle;

/// A user of a seeded customer, with the personal values written for them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeededUser {
    /// The user's id.
    pub id: i64,
    /// First name.
    pub first_name: String,
    /// Last name.
    pub last_name: String,
    /// Email.
    pub email: String,
    /// Phone.
    pub phone: String,
    /// The IP address their orders were placed from.
    pub ip: String,
    /// The IBAN of their cashbacks.
    pub iban: String,
    /// Whether the user is an account admin (B2B customers only).
    pub admin: bool,
}

impl SeededUser {
    /// `First Last`.
    pub fn full_name(&self) -> String {
        format!("{} {}", self.first_name, self.last_name)
    }
}

/// An address of a seeded customer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeededAddress {
    /// The address id.
    pub id: i64,
    /// The user it belongs to (the first address belongs to the first user).
    pub user_id: Option<i64>,
    /// The street name (a unique word) with `Street` and a number.
    pub street: String,
    /// The city (a unique word).
    pub city: String,
    /// The postcode.
    pub postcode: String,
}

/// One generated customer (or guest): ids and every personal value written for them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeededCustomer {
    /// The 0-based index.
    pub index: u64,
    /// The customer id (`index + 1`); for a guest, the id block used for their rows, with no
    /// customer row.
    pub id: i64,
    /// Whether this is a guest (no customer or user rows).
    pub guest: bool,
    /// The company name of a B2B customer.
    pub company: Option<String>,
    /// Users (a guest has one pseudo-user holding their personal values, with no users row).
    pub users: Vec<SeededUser>,
    /// Addresses.
    pub addresses: Vec<SeededAddress>,
    /// The shape the rows were generated with.
    pub shape: Shape,
    /// Orders written.
    pub orders: u32,
    /// Cashbacks written.
    pub cashbacks: u32,
}

impl SeededCustomer {
    /// Whether this is a B2B customer.
    pub fn is_b2b(&self) -> bool {
        self.company.is_some()
    }

    /// The subject that erases this customer (or guest) as a whole.
    pub fn subject(&self) -> Subject {
        if self.guest {
            Subject::Guest {
                email: self.users[0].email.clone(),
            }
        } else {
            Subject::customer(Key::Int(self.id))
        }
    }

    /// Every personal value written for this customer, labelled, for residue scans.
    pub fn needles(&self) -> Vec<Needle> {
        let mut out = Vec::new();
        let who = if self.guest { "guest" } else { "customer" };
        for u in 0..self.users.len() {
            out.extend(
                self.user_needles(u)
                    .into_iter()
                    .filter(|n| !n.label.contains("address")),
            );
        }
        for (a, addr) in self.addresses.iter().enumerate() {
            let label = |field: &str| format!("{who} {} address {a} {field}", self.id);
            out.push(Needle::new(label("street"), &addr.street));
            out.push(Needle::new(label("city"), &addr.city));
            out.push(Needle::new(label("postcode"), &addr.postcode));
        }
        if let Some(company) = &self.company {
            out.push(Needle::new(format!("{who} {} company", self.id), company));
        }
        out
    }

    /// The personal values of one user (for erasing a single user of a B2B customer): their
    /// name, email and phone, the IP address of their orders and the IBAN of their cashbacks
    /// (if they have any), and the addresses that belong to them.
    pub fn user_needles(&self, user: usize) -> Vec<Needle> {
        let u = &self.users[user];
        let who = if self.guest { "guest" } else { "customer" };
        let id = self.id;
        let label = |field: &str| format!("{who} {id} user {user} {field}");
        let mut out = vec![
            Needle::new(label("first name"), &u.first_name),
            Needle::new(label("last name"), &u.last_name),
            Needle::new(label("email"), &u.email),
            Needle::new(label("phone"), &u.phone),
        ];
        // Orders and cashbacks go to users in turn: user u has some if there are more than u.
        if self.orders as usize > user {
            out.push(Needle::new(label("ip"), &u.ip));
        }
        if self.cashbacks as usize > user {
            out.push(Needle::new(label("iban"), &u.iban));
        }
        for (a, addr) in self.addresses.iter().enumerate() {
            if addr.user_id == Some(u.id) {
                out.push(Needle::new(
                    format!("{who} {id} address {a} street"),
                    &addr.street,
                ));
                out.push(Needle::new(
                    format!("{who} {id} address {a} city"),
                    &addr.city,
                ));
                out.push(Needle::new(
                    format!("{who} {id} address {a} postcode"),
                    &addr.postcode,
                ));
            }
        }
        out
    }
}

impl Seed {
    /// The person at `index` (a customer, or a guest indexed after all customers), derived from
    /// the configuration and the index alone.
    pub(super) fn person(&self, index: u64, guest: bool) -> SeededCustomer {
        let id = index as i64 + 1;
        let b2b = !guest
            && self.config.b2b_every > 0
            && index % self.config.b2b_every == self.config.b2b_every - 1;
        let second_admin = b2b && (index / self.config.b2b_every.max(1)) % 2 == 1;
        let shape = self.config.shape_of(index);
        let mut rng = self.rng(index, 0);
        let mut words = Words::new(index);
        let company = b2b.then(|| format!("{} GmbH", words.next()));
        let users = users(index, b2b, second_admin, &mut words);
        let address_count = shape.addresses.draw(&mut rng).min(ADDRESSES_PER as u32);
        let addresses = addresses(index, guest, &users, address_count, &mut words, &mut rng);
        let mut counts = self.rng(index, 2);
        let mut orders = shape.orders.draw(&mut counts).min(ORDERS_PER as u32);
        if guest {
            // A guest is only known through what they ordered.
            orders = orders.max(1);
        }
        let cashbacks = if guest {
            0
        } else {
            shape.cashbacks.draw(&mut counts).min(CASHBACKS_PER as u32)
        };
        SeededCustomer {
            index,
            id,
            guest,
            company,
            users,
            addresses,
            shape,
            orders,
            cashbacks,
        }
    }
}

/// The unique words of one person (their block of [`WORDS_PER`]), handed out in turn: the
/// company, each user's first and last name, each address's street and city.
struct Words {
    first: u64,
    next: u64,
}

impl Words {
    fn new(index: u64) -> Self {
        Self {
            first: index * WORDS_PER,
            next: 0,
        }
    }

    fn next(&mut self) -> String {
        let w = names::word(self.first + self.next);
        self.next += 1;
        w
    }
}

/// The users of the person at `index`: three for a B2B customer (the first, and every other
/// customer's second, an account admin), one otherwise.
fn users(index: u64, b2b: bool, second_admin: bool, words: &mut Words) -> Vec<SeededUser> {
    let id = index as i64 + 1;
    let user_count = if b2b { 3 } else { 1 };
    (0..user_count)
        .map(|u| {
            let person = index * USERS_PER as u64 + u as u64;
            let first_name = words.next();
            let last_name = words.next();
            SeededUser {
                id: id * USERS_PER + u as i64,
                email: names::email(&first_name, &last_name, person),
                first_name,
                last_name,
                phone: names::phone(person),
                ip: names::ip(person),
                iban: names::iban(person),
                admin: b2b && (u == 0 || (u == 1 && second_admin)),
            }
        })
        .collect()
}

/// The `count` addresses of the person at `index`, given to their users in turn (a guest's
/// belong to no user).
fn addresses(
    index: u64,
    guest: bool,
    users: &[SeededUser],
    count: u32,
    words: &mut Words,
    rng: &mut Rng,
) -> Vec<SeededAddress> {
    let id = index as i64 + 1;
    (0..count)
        .map(|a| {
            let n = index * ADDRESSES_PER as u64 + u64::from(a);
            SeededAddress {
                id: id * ADDRESSES_PER + i64::from(a),
                user_id: (!guest).then(|| users[(a as usize) % users.len()].id),
                street: format!("{} Street {}", words.next(), 1 + rng.below(199)),
                city: words.next(),
                postcode: names::postcode(n),
            }
        })
        .collect()
}
