//! Shift login: the crew typed by hand, or picked from the provisioned
//! staff list by personnel number or name (qualification prefilled). The
//! core marks who came from the list; the page shows it.

use super::*;

impl Controller {
    pub(super) fn refresh_login(&self, ui: &AppWindow) {
        let login = ui.global::<LoginAdapter>();
        login.set_call_sign(ss(&self.login_call_sign));
        let staff = if self.page == Page::Login {
            self.pad.staff()
        } else {
            Vec::new()
        };
        let quals = Qualification::ALL;
        sync_model(
            &login.get_crew(),
            self.login
                .iter()
                .map(|r| {
                    let q = quals[r.qualification.min(quals.len() - 1)];
                    let m = rettpad_pad::session::CrewMember::new(&r.name, &r.number, q);
                    CrewVM {
                        name: ss(&r.name),
                        number: ss(&r.number),
                        qualification: r.qualification as i32,
                        listed: rettpad_pad::fleet::is_listed(&staff, &m),
                    }
                })
                .collect(),
            |m| login.set_crew(m),
        );
        login.set_has_staff(!staff.is_empty());
        login.set_staff_query(ss(&self.staff_query));
        sync_model(
            &login.get_staff_matches(),
            self.staff_matches
                .iter()
                .map(|s| {
                    let q = rettpad_pad::fleet::qualification_of(s)
                        .map(|q| self.lang.pick(q.label_de(), q.label_en()))
                        .unwrap_or_default();
                    StaffVM {
                        number: ss(&s.number),
                        label: ss(format!("{} · {} · {q}", s.name, s.number)),
                    }
                })
                .collect(),
            |m| login.set_staff_matches(m),
        );
        sync_model(
            &login.get_qualifications(),
            Qualification::ALL
                .iter()
                .map(|q| ss(self.lang.pick(q.label_de(), q.label_en())))
                .collect(),
            |m| login.set_qualifications(m),
        );
        login.set_error(ss(&self.login_error));
    }

    /// The search field changed: at most six matches.
    pub(super) fn staff_search(&mut self, query: &str) {
        self.staff_query = query.to_string();
        self.staff_matches = rettpad_pad::fleet::find_staff(&self.pad.staff(), query, 6);
    }

    /// A match tapped: into the first empty row, or a new one.
    pub(super) fn staff_pick(&mut self, number: &str) {
        let Some(s) = self.pad.staff().into_iter().find(|s| s.number == number) else {
            return;
        };
        if self.login.iter().any(|r| r.number == s.number) {
            self.staff_query.clear();
            self.staff_matches.clear();
            return;
        }
        let qualification = rettpad_pad::fleet::qualification_of(&s)
            .and_then(|q| Qualification::ALL.iter().position(|x| *x == q))
            .unwrap_or(Qualification::ALL.len() - 1);
        let row = LoginRow {
            name: s.name.clone(),
            number: s.number.clone(),
            qualification,
        };
        let empty = self
            .login
            .iter()
            .position(|r| r.name.trim().is_empty() && r.number.trim().is_empty());
        match empty {
            Some(i) => self.login[i] = row,
            None if self.login.len() < rettpad_pad::session::MAX_CREW => self.login.push(row),
            None => {}
        }
        self.staff_query.clear();
        self.staff_matches.clear();
    }

    pub(super) fn start_shift(&mut self) {
        let quals = Qualification::ALL;
        let crew: Vec<(String, String, Qualification)> = self
            .login
            .iter()
            .map(|r| {
                (
                    r.name.clone(),
                    r.number.clone(),
                    quals[r.qualification.min(quals.len() - 1)],
                )
            })
            .collect();
        let call_sign = self.login_call_sign.clone();
        match self.pad.start_shift(&call_sign, &crew) {
            Ok(()) => {
                self.login_error.clear();
                self.page = Page::Missions;
            }
            Err(n) => self.login_error = n.message(self.lang),
        }
    }
}
