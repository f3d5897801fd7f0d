#include "emulator.hpp"

namespace ferry::sandbox::umsatzio {

namespace {
Json field(const char* id, const char* name, const char* label, const char* type, bool required = false,
           std::vector<std::string> options = {}) {
  Json opts = Json::array();
  int n = 0;
  for (const auto& o : options) {
    opts.push_back({{"id", std::string(id) + "_o" + std::to_string(++n)}, {"value", o}});
  }
  return {{"id", id},          {"name", name},         {"label", label},  {"columnLabel", label},
          {"fieldType", type}, {"required", required}, {"options", opts}};
}
}  // namespace

const Words& words() {
  static const Words w{
      {"Jana", "Lukas", "Sophie", "Jürgen", "Özlem", "Maximilian", "Lena", "Björn", "Marie", "Günther",
       "Hannah", "Felix", "Änne", "Paul", "Clara", "Jörg"},
      {"Müller", "Schmidt", "Schneider", "Fischer", "Weiß", "Groß", "Köhler", "Schäfer", "Becker",
       "Hoffmann", "Krüger", "Wagner", "Strauß", "Lange", "Böhm", "Zimmermann"},
      {"Bäckerei Groß GmbH", "Müller & Söhne KG", "Schäfer Dachbau GmbH", "Köhler Immobilien",
       "Straßenbau Weiß AG", "Praxis Dr. Böhm", "Autohaus Krüger", "Fitnessstudio Lange",
       "Steuerbüro Hoffmann", "Zimmermann Elektrotechnik"},
      {"München", "Köln", "Düsseldorf", "Nürnberg", "Würzburg", "Lübeck", "Görlitz", "Berlin"},
      {"Empfehlung", "Webseite", "Messe", "Kaltakquise", "LinkedIn"},
      {"Rückruf vereinbart.\n\n- Preisliste schicken\n- Größe des Teams klären",
       "# Erstgespräch\n\nEntscheider ist der Geschäftsführer.\nBudget für Q1 eingeplant.",
       "Angebot besprochen:\n\n1. Laufzeit 12 Monate\n2. Einführung im Januar\n3. Schulung vor Ort",
       "Kunde möchte die Unterlagen per E-Mail. Grüße an Frau Weiß ausrichten.",
       "Nicht erreicht, Mailbox. Nächste Woche erneut versuchen."},
      {"Entscheider erreicht, Interesse vorhanden.", "Sekretariat, Rückruf erbeten.",
       "Termin für das Setting vereinbart.", "Kein Bedarf im Moment.", "Abschluss besprochen."}};
  return w;
}

Json contactCards() {
  return Json::array(
      {{{"id", "card_stammdaten"},
        {"name", "Stammdaten"},
        {"fields",
         {field("f_email", "global_contact_email", "E-Mail", "email", true),
          field("f_first", "global_contact_first_name", "Vorname", "text"),
          field("f_last", "global_contact_last_name", "Nachname", "text"),
          field("f_phone", "global_contact_phone", "Telefon", "phone"),
          field("f_company", "global_contact_company", "Firma", "text"),
          field("f_city", "contact_city", "Ort", "text"),
          field("f_position", "contact_position", "Position", "text")}}},
       {{"id", "card_vertrieb"},
        {"name", "Vertrieb"},
        {"fields",
         {field("f_source", "contact_source", "Quelle", "dropdown", false,
                {"Empfehlung", "Webseite", "Messe", "Kaltakquise", "LinkedIn"}),
          field("f_status", "contact_status", "Status", "dropdown", false,
                {"Neu", "Kontaktiert", "Qualifiziert", "Kunde", "Verloren"}),
          field("f_newsletter", "contact_newsletter", "Newsletter", "switch"),
          field("f_employees", "contact_employees", "Mitarbeiterzahl", "numeric"),
          field("f_last_reached", "global_contact_last_reached", "Zuletzt erreicht", "daytime"),
          field("f_calls", "global_contact_phone_call_count", "Anzahl Anrufe", "numeric")}}}});
}

Json dealCards() {
  return Json::array(
      {{{"id", "card_deal"},
        {"name", "Deal"},
        {"fields",
         {field("f_value", "deal_value", "Auftragswert", "currency"),
          field("f_product", "deal_product", "Produkt", "dropdown", false,
                {"Starter", "Professional", "Enterprise"}),
          field("f_close", "deal_expected_close", "Voraussichtlicher Abschluss", "day"),
          field("f_deal_calls", "global_deal_phone_call_count", "Anzahl Anrufe", "numeric")}}}});
}

Json pipelines() {
  return Json::array(
      {{{"id", "pl_vertrieb"},
        {"name", "Vertrieb"},
        {"stages",
         {{{"id", "st_opening"}, {"name", "Opening"}, {"color", "#8ecae6"}},
          {{"id", "st_setting"}, {"name", "Setting terminiert"}, {"color", "#219ebc"}},
          {{"id", "st_closing"}, {"name", "Closing"}, {"color", "#023047"}},
          {{"id", "st_won"}, {"name", "Gewonnen"}, {"color", "#2a9d8f"}},
          {{"id", "st_lost"}, {"name", "Verloren"}, {"color", "#e76f51"}}}}},
       {{"id", "pl_partner"},
        {"name", "Partnergeschäft"},
        {"stages",
         {{{"id", "st_p_new"}, {"name", "Neu"}, {"color", "#ffb703"}},
          {{"id", "st_p_active"}, {"name", "Aktiv"}, {"color", "#fb8500"}}}}}});
}

Json callTypes() {
  return Json::array(
      {{{"id", "ct_opening"}, {"label", "Erstgespräch"}, {"category", "openingCall"},
        {"results", {"reached", "not_reached", "follow_up", "not_interested", "setting_booked"}}},
       {{"id", "ct_setting"}, {"label", "Setting"}, {"category", "settingCall"},
        {"results", {"reached", "not_reached", "follow_up", "closing_booked", "disqualified"}}},
       {{"id", "ct_closing"}, {"label", "Closing"}, {"category", "closingCall"},
        {"results", {"won", "lost", "follow_up", "not_reached"}}}});
}

Json forms() {
  return Json::array({{{"id", "fm_kontakt"}, {"name", "Kontaktformular Webseite"}},
                      {{"id", "fm_webinar"}, {"name", "Webinar-Anmeldung"}}});
}

Json accounts() {
  return Json::array(
      {{{"id", "ac_admin"}, {"role", "admin"}, {"createdAt", "2026-01-05T08:00:00.000Z"},
        {"profile", {{"id", "pr_admin"}, {"email", "chefin@vertrieb.de"}, {"firstName", "Sabine"}, {"lastName", "Groß"}}}},
       {{"id", "ac_setter"}, {"role", "setter"}, {"createdAt", "2026-01-05T08:00:00.000Z"},
        {"profile", {{"id", "pr_setter"}, {"email", "lukas.weiss@vertrieb.de"}, {"firstName", "Lukas"}, {"lastName", "Weiß"}}}},
       {{"id", "ac_closer"}, {"role", "closer"}, {"createdAt", "2026-02-01T08:00:00.000Z"},
        {"profile", {{"id", "pr_closer"}, {"email", "oezlem.krueger@vertrieb.de"}, {"firstName", "Özlem"}, {"lastName", "Krüger"}}}}});
}

}  // namespace ferry::sandbox::umsatzio
