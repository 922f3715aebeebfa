/**
 * The pages' texts in English and German. The server renders the static text into the HTML and
 * hands the same dictionary to the page's script as a JSON data block, so the client bundle holds
 * no language of its own and both sides always agree.
 */

/** Languages the pages speak; the first is the fallback. */
export const LANGS = ["en", "de"] as const;
export type Lang = (typeof LANGS)[number];

const en = {
	"app.name": "Fernwart",
	"lang.switch": "Deutsch",
	"lang.other": "de",
	"nav.console": "Support console",
	"nav.admin": "Administration",
	"nav.join": "Join a session",
	"nav.logout": "Log out",
	skip: "Skip to content",
	"home.title": "Remote support",
	"home.customer": "I need help: join with my support ID",
	"home.supporter": "I am a supporter: log in",

	"login.title": "Log in",
	"login.email": "E-mail address",
	"login.password": "Password",
	"login.totp": "Authenticator code (if enabled)",
	"login.submit": "Log in",
	"login.failed": "Login failed: e-mail address or password is wrong.",
	"login.totpRequired": "Enter the code from your authenticator app.",
	"login.rateLimited": "Too many attempts. Please wait a few minutes.",

	"join.title": "Join a support session",
	"join.intro":
		"Your supporter gave you an 8-digit support ID. Nothing is installed on your computer.",
	"join.code": "Support ID (8 digits)",
	"join.name": "Your name",
	"join.submit": "Connect",
	"join.notFound": "This support ID is unknown, expired or was used already.",
	"join.terms": "Support terms",
	"join.termsAccept": "I have read and accept the support terms.",
	"join.termsSubmit": "Accept and continue",
	"join.termsDecline": "Decline and leave",
	"join.connecting": "Connecting to your supporter…",
	"join.sas": "Security code",
	"join.sasHint": "Your supporter sees the same code. If it differs, press STOP.",
	"join.share": "Share my screen",
	"join.shareHint":
		"Your browser asks what to share: a window, a whole screen or a browser tab. Only what you choose is shown.",
	"join.shareStop": "Stop sharing",
	"join.sharing": "You are sharing your screen.",
	"join.viewing": "Your supporter is viewing your screen.",
	"join.controlling":
		"Your supporter has control: their pointer is shown on your screen as a marker.",
	"join.stop": "STOP",
	"join.stopHint": "Ends the session at once (Alt+Shift+S)",
	"join.ended": "The session has ended. You can close this page.",
	"join.stopped": "You stopped the session. Nothing is shared any more.",
	"join.ask.control":
		"Your supporter asks for remote control. They can then point on your shared screen. Allow?",
	"join.ask.view": "Your supporter asks to see your screen. Allow?",
	"join.ask.file": "Your supporter offers a file: {name} ({size} bytes). Accept?",
	"join.allow": "Allow",
	"join.deny": "Deny",
	"join.revoke": "Take back control",
	"join.shareFailed": "Screen sharing was cancelled or is not available in this browser.",
	"join.peerScreen": "Your supporter's screen",

	"console.title": "Support console",
	"console.issue": "Issue a support ID",
	"console.code": "Support ID",
	"console.copy": "Copy",
	"console.copied": "Copied",
	"console.expires": "Valid for {time}",
	"console.expired": "This support ID has expired. Issue a new one.",
	"console.waiting": "Give this ID to your customer. They open {url} and type it in.",
	"console.joined": "Customer connected: {name}",
	"console.sas": "Security code",
	"console.sasHint": "Ask the customer to read out their code; it must match.",
	"console.terms": "Waiting for the customer to accept the terms…",
	"console.noScreen": "Waiting for the customer to share their screen…",
	"console.requestView": "Ask to see the screen",
	"console.requestControl": "Request control",
	"console.shareOwn": "Show my screen instead",
	"console.showing": "You are showing your screen to the customer.",
	"console.controlNote":
		"A browser customer cannot be controlled at the operating-system level. With control granted, your pointer and clicks appear as annotations on the customer's screen.",
	"console.controlGranted": "Control granted: move and click on the screen to point.",
	"console.controlDenied": "The customer declined control.",
	"console.end": "End session",
	"console.endedBy.stopped": "The customer pressed STOP. The session has ended.",
	"console.endedBy.ended": "The session has ended.",
	"console.endedBy.expired": "The session has expired.",
	"console.comment": "Comment for the protocol",
	"console.commentSend": "Add comment",
	"console.screen": "Customer's screen",
	"console.hosts": "Hosts",
	"console.hostsNone": "No unattended hosts are enrolled yet.",

	"chat.title": "Chat",
	"chat.message": "Message",
	"chat.send": "Send",
	"chat.you": "You",
	"chat.peer.supporter": "Supporter",
	"chat.peer.customer": "Customer",

	"admin.title": "Administration",
	"admin.users": "Users",
	"admin.userEmail": "E-mail address",
	"admin.userName": "Display name",
	"admin.userRole": "Role",
	"admin.userPassword": "Initial password (12 characters or more)",
	"admin.userCreate": "Create user",
	"admin.userCreated": "User created.",
	"admin.userDisabled": "disabled",
	"admin.settings": "Settings",
	"admin.termsText": "Support terms shown to customers",
	"admin.requireTerms": "Customers must accept the terms",
	"admin.defaultView": "Default view direction",
	"admin.viewCustomer": "The customer shows their screen",
	"admin.viewSupporter": "The supporter shows their screen",
	"admin.codeTtl": "Support ID valid for (minutes)",
	"admin.requireTotp": "Require a second factor (TOTP) for every user",
	"admin.save": "Save settings",
	"admin.saved": "Settings saved.",
	"admin.sessions": "Live sessions",
	"admin.sessionsNone": "No live sessions.",
	"admin.sessionEnd": "End",
	"admin.sessionCustomer": "Customer",
	"admin.sessionState": "State",
	"admin.sessionCreated": "Issued",
	"admin.forbidden": "Only administrators can use this page.",

	"error.generic": "Something went wrong: {message}",
	"error.network": "The server cannot be reached.",
};

/** The keys every language defines; a missing German text is a type error. */
export type MessageKey = keyof typeof en;
export type Messages = Record<MessageKey, string>;

const de: Messages = {
	"app.name": "Fernwart",
	"lang.switch": "English",
	"lang.other": "en",
	"nav.console": "Support-Konsole",
	"nav.admin": "Verwaltung",
	"nav.join": "Sitzung beitreten",
	"nav.logout": "Abmelden",
	skip: "Zum Inhalt springen",
	"home.title": "Fernwartung",
	"home.customer": "Ich brauche Hilfe: mit meiner Support-ID beitreten",
	"home.supporter": "Ich bin Supporter: anmelden",

	"login.title": "Anmelden",
	"login.email": "E-Mail-Adresse",
	"login.password": "Passwort",
	"login.totp": "Code aus der Authenticator-App (falls aktiviert)",
	"login.submit": "Anmelden",
	"login.failed": "Anmeldung fehlgeschlagen: E-Mail-Adresse oder Passwort ist falsch.",
	"login.totpRequired": "Bitte den Code aus der Authenticator-App eingeben.",
	"login.rateLimited": "Zu viele Versuche. Bitte einige Minuten warten.",

	"join.title": "Einer Support-Sitzung beitreten",
	"join.intro":
		"Ihr Supporter hat Ihnen eine 8-stellige Support-ID genannt. Auf Ihrem Computer wird nichts installiert.",
	"join.code": "Support-ID (8 Ziffern)",
	"join.name": "Ihr Name",
	"join.submit": "Verbinden",
	"join.notFound": "Diese Support-ID ist unbekannt, abgelaufen oder wurde schon verwendet.",
	"join.terms": "Nutzungsbedingungen",
	"join.termsAccept": "Ich habe die Nutzungsbedingungen gelesen und akzeptiere sie.",
	"join.termsSubmit": "Akzeptieren und fortfahren",
	"join.termsDecline": "Ablehnen und verlassen",
	"join.connecting": "Verbindung zu Ihrem Supporter wird aufgebaut…",
	"join.sas": "Sicherheitscode",
	"join.sasHint": "Ihr Supporter sieht denselben Code. Weicht er ab, drücken Sie STOPP.",
	"join.share": "Bildschirm freigeben",
	"join.shareHint":
		"Ihr Browser fragt, was freigegeben wird: ein Fenster, ein ganzer Bildschirm oder ein Browser-Tab. Nur Ihre Auswahl wird gezeigt.",
	"join.shareStop": "Freigabe beenden",
	"join.sharing": "Sie geben Ihren Bildschirm frei.",
	"join.viewing": "Ihr Supporter sieht Ihren Bildschirm.",
	"join.controlling":
		"Ihr Supporter hat die Steuerung: sein Mauszeiger wird auf Ihrem Bildschirm als Markierung gezeigt.",
	"join.stop": "STOPP",
	"join.stopHint": "Beendet die Sitzung sofort (Alt+Umschalt+S)",
	"join.ended": "Die Sitzung ist beendet. Sie können diese Seite schließen.",
	"join.stopped": "Sie haben die Sitzung beendet. Es wird nichts mehr übertragen.",
	"join.ask.control":
		"Ihr Supporter bittet um die Fernsteuerung. Er kann dann auf Ihrem freigegebenen Bildschirm zeigen. Erlauben?",
	"join.ask.view": "Ihr Supporter möchte Ihren Bildschirm sehen. Erlauben?",
	"join.ask.file": "Ihr Supporter bietet eine Datei an: {name} ({size} Bytes). Annehmen?",
	"join.allow": "Erlauben",
	"join.deny": "Ablehnen",
	"join.revoke": "Steuerung zurücknehmen",
	"join.shareFailed":
		"Die Bildschirmfreigabe wurde abgebrochen oder ist in diesem Browser nicht verfügbar.",
	"join.peerScreen": "Bildschirm Ihres Supporters",

	"console.title": "Support-Konsole",
	"console.issue": "Support-ID erzeugen",
	"console.code": "Support-ID",
	"console.copy": "Kopieren",
	"console.copied": "Kopiert",
	"console.expires": "Gültig für {time}",
	"console.expired": "Diese Support-ID ist abgelaufen. Bitte eine neue erzeugen.",
	"console.waiting": "Geben Sie diese ID Ihrem Kunden. Er öffnet {url} und gibt sie ein.",
	"console.joined": "Kunde verbunden: {name}",
	"console.sas": "Sicherheitscode",
	"console.sasHint": "Lassen Sie sich den Code des Kunden vorlesen; er muss übereinstimmen.",
	"console.terms": "Warten, bis der Kunde die Nutzungsbedingungen akzeptiert…",
	"console.noScreen": "Warten, bis der Kunde seinen Bildschirm freigibt…",
	"console.requestView": "Bildschirm anfragen",
	"console.requestControl": "Steuerung anfragen",
	"console.shareOwn": "Stattdessen meinen Bildschirm zeigen",
	"console.showing": "Sie zeigen dem Kunden Ihren Bildschirm.",
	"console.controlNote":
		"Ein Kunde im Browser kann nicht auf Betriebssystemebene gesteuert werden. Mit erteilter Steuerung erscheinen Ihr Zeiger und Ihre Klicks als Markierungen auf dem Bildschirm des Kunden.",
	"console.controlGranted":
		"Steuerung erteilt: bewegen und klicken Sie auf dem Bildschirm, um zu zeigen.",
	"console.controlDenied": "Der Kunde hat die Steuerung abgelehnt.",
	"console.end": "Sitzung beenden",
	"console.endedBy.stopped": "Der Kunde hat STOPP gedrückt. Die Sitzung ist beendet.",
	"console.endedBy.ended": "Die Sitzung ist beendet.",
	"console.endedBy.expired": "Die Sitzung ist abgelaufen.",
	"console.comment": "Kommentar für das Protokoll",
	"console.commentSend": "Kommentar hinzufügen",
	"console.screen": "Bildschirm des Kunden",
	"console.hosts": "Rechner",
	"console.hostsNone": "Noch keine unbeaufsichtigten Rechner eingerichtet.",

	"chat.title": "Chat",
	"chat.message": "Nachricht",
	"chat.send": "Senden",
	"chat.you": "Sie",
	"chat.peer.supporter": "Supporter",
	"chat.peer.customer": "Kunde",

	"admin.title": "Verwaltung",
	"admin.users": "Benutzer",
	"admin.userEmail": "E-Mail-Adresse",
	"admin.userName": "Anzeigename",
	"admin.userRole": "Rolle",
	"admin.userPassword": "Anfangspasswort (mindestens 12 Zeichen)",
	"admin.userCreate": "Benutzer anlegen",
	"admin.userCreated": "Benutzer angelegt.",
	"admin.userDisabled": "gesperrt",
	"admin.settings": "Einstellungen",
	"admin.termsText": "Nutzungsbedingungen für Kunden",
	"admin.requireTerms": "Kunden müssen die Bedingungen akzeptieren",
	"admin.defaultView": "Standard-Blickrichtung",
	"admin.viewCustomer": "Der Kunde zeigt seinen Bildschirm",
	"admin.viewSupporter": "Der Supporter zeigt seinen Bildschirm",
	"admin.codeTtl": "Support-ID gültig für (Minuten)",
	"admin.requireTotp": "Zweiten Faktor (TOTP) für alle Benutzer verlangen",
	"admin.save": "Einstellungen speichern",
	"admin.saved": "Einstellungen gespeichert.",
	"admin.sessions": "Laufende Sitzungen",
	"admin.sessionsNone": "Keine laufenden Sitzungen.",
	"admin.sessionEnd": "Beenden",
	"admin.sessionCustomer": "Kunde",
	"admin.sessionState": "Status",
	"admin.sessionCreated": "Erzeugt",
	"admin.forbidden": "Nur Administratoren können diese Seite verwenden.",

	"error.generic": "Etwas ist schiefgegangen: {message}",
	"error.network": "Der Server ist nicht erreichbar.",
};

const MESSAGES: Record<Lang, Messages> = { en, de };

/** The dictionary of `lang`. */
export function messages(lang: Lang): Messages {
	return MESSAGES[lang];
}

function isLang(value: string | undefined): value is Lang {
	return value !== undefined && (LANGS as readonly string[]).includes(value);
}

/**
 * The page language: an explicit `?lang=` first, then the switch's cookie, then the first
 * supported language in `Accept-Language` (quality values respected), else English.
 */
export function pickLang(query?: string, cookie?: string, acceptLanguage?: string): Lang {
	if (isLang(query)) return query;
	if (isLang(cookie)) return cookie;
	const ranked = (acceptLanguage ?? "")
		.split(",")
		.map((part, index) => {
			const [tag = "", ...params] = part.trim().split(";");
			const q = params.map((p) => /^\s*q=([\d.]+)\s*$/.exec(p)?.[1]).find(Boolean);
			return { lang: tag.toLowerCase().split("-")[0], q: q ? Number(q) : 1, index };
		})
		.filter((entry) => entry.q > 0)
		.sort((a, b) => b.q - a.q || a.index - b.index);
	return ranked.map((entry) => entry.lang).find(isLang) ?? "en";
}
